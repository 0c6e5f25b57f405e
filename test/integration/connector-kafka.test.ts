/**
 * The connector runtime on a real Kafka broker: a department's instances share its request topic as
 * one consumer group, and a request sent before any instance ran is still answered.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { CertificateHandler } from '../../connectors/runtime/certificate-handler.js';
import { type Connector, createConnector } from '../../connectors/runtime/connector-runtime.js';
import { createLookupRequester, type LookupRequester } from '../../connectors/testing/lookup-requester.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import type { LookupReplyEnvelope } from '../../gateway/protocol/envelopes.js';
import { REQUEST_TOPIC_PARTITIONS, topicNames } from '../../gateway/protocol/topics.js';
import { departmentIdentity } from '../support/department-keys.js';

const brokers = inject('kafkaBrokers').split(',');
const logger = pino({ level: 'silent' });
const DEPARTMENT = 'public-security';

const idCards: CertificateHandler = {
  schemaVersion: 1,
  async lookup(request) {
    const idNumber = String(request.subject.idNumber);
    return idNumber.startsWith('missing') ? undefined : { idNumber, name: `Resident ${idNumber.slice(-4)}` };
  },
};

const identity = departmentIdentity(DEPARTMENT);

describe('connector runtime on Kafka', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  function kafkaBus(): Bus {
    const bus = createKafkaBus({
      brokers,
      clientId: `connector-test-${randomBytes(3).toString('hex')}`,
      logger,
    });
    cleanup.push(() => bus.close());
    return bus;
  }

  async function startRequester(prefix: string): Promise<LookupRequester> {
    const requester = createLookupRequester({ bus: kafkaBus(), topicPrefix: prefix });
    await requester.start();
    cleanup.push(() => requester.stop());
    return requester;
  }

  async function startInstance(prefix: string, instanceId: string): Promise<Connector> {
    // Each instance has its own Kafka clients, as separate processes would.
    const connector = createConnector({
      bus: kafkaBus(),
      department: DEPARTMENT,
      instanceId,
      topicPrefix: prefix,
      signer: identity.signer,
      handlers: { 'resident-id-card': idCards },
      concurrency: 4,
      logger,
    });
    cleanup.push(() => connector.stop());
    await connector.start();
    return connector;
  }

  it('three instances in one consumer group share the load and answer every lookup exactly once', async () => {
    const prefix = `ct${randomBytes(4).toString('hex')}`;
    const requester = await startRequester(prefix);
    const instances = [];
    for (const id of ['ps-1', 'ps-2', 'ps-3']) instances.push(await startInstance(prefix, id));

    const subjects = Array.from({ length: 60 }, (_, i) =>
      i % 10 === 9 ? `missing-${i}` : `3501021990010${String(i).padStart(5, '0')}`,
    );
    const replies = await Promise.all(
      subjects.map((idNumber) =>
        requester.lookup(DEPARTMENT, { certificateType: 'resident-id-card', subject: { idNumber } }, 20_000),
      ),
    );

    expect(replies.filter((reply) => reply.outcome === 'found')).toHaveLength(54);
    expect(replies.filter((reply) => reply.outcome === 'not-found')).toHaveLength(6);
    const byInstance = new Map<string, number>();
    for (const reply of replies) {
      byInstance.set(reply.connector.instanceId, (byInstance.get(reply.connector.instanceId) ?? 0) + 1);
    }
    expect([...byInstance.keys()].sort()).toEqual(['ps-1', 'ps-2', 'ps-3']);
    // Exactly once: no lookup was answered twice (as could happen if offsets were committed late or lost).
    await expect.poll(() => requester.replies.length).toBe(60);
    const correlationIds = new Set(requester.replies.map((message) => message.headers.kafka_correlationId));
    expect(correlationIds.size).toBe(60);
    const handled = instances.map(
      (instance) => instance.stats().replied.found + instance.stats().replied.notFound,
    );
    expect(handled.reduce((a, b) => a + b, 0)).toBe(60);
    expect(Math.min(...handled)).toBeGreaterThan(0);
  });

  it('answers a request that was sent before any instance of the department was running', async () => {
    const prefix = `ct${randomBytes(4).toString('hex')}`;
    const requester = await startRequester(prefix);
    const bus = kafkaBus();
    await bus.ensureTopics([topicNames(prefix).lookupRequests(DEPARTMENT)], REQUEST_TOPIC_PARTITIONS);
    const request = requester.envelope(
      { certificateType: 'resident-id-card', subject: { idNumber: '350102199001011234' } },
      20_000,
    );
    // Resolves once the broker has the record: before the department's group exists.
    await requester.send(DEPARTMENT, JSON.stringify(request), {
      kafka_correlationId: request.lookupId,
      kafka_replyTopic: requester.replyTopic,
    });
    await startInstance(prefix, 'ps-late');
    await expect.poll(() => requester.replies.length, { timeout: 15_000 }).toBe(1);
    const reply = JSON.parse(requester.replies[0]?.value ?? '{}') as LookupReplyEnvelope;
    expect(reply).toMatchObject({
      lookupId: request.lookupId,
      outcome: 'found',
      connector: { instanceId: 'ps-late' },
    });
  });
  it('when an instance stops gracefully, it says down and the others take over its partitions', async () => {
    const prefix = `ct${randomBytes(4).toString('hex')}`;
    const requester = await startRequester(prefix);
    const heartbeats: string[] = [];
    const watcher = kafkaBus();
    await watcher.ensureTopics([topicNames(prefix).heartbeats]);
    const watching = await watcher.subscribe({
      topics: [topicNames(prefix).heartbeats],
      groupId: `${prefix}.watch`,
      fromBeginning: true,
      handle: async (message) => {
        const { instanceId, state } = JSON.parse(message.value) as { instanceId: string; state: string };
        heartbeats.push(`${instanceId}:${state}`);
      },
    });
    cleanup.push(() => watching.stop());
    const first = await startInstance(prefix, 'ps-a');
    const second = await startInstance(prefix, 'ps-b');
    const lookup = (i: number) =>
      requester.lookup(
        DEPARTMENT,
        { certificateType: 'resident-id-card', subject: { idNumber: `35010219900101${i}` } },
        20_000,
      );

    await Promise.all(Array.from({ length: 12 }, (_, i) => lookup(1000 + i)));
    await first.stop();
    await expect.poll(() => heartbeats, { timeout: 10_000 }).toContain('ps-a:down');

    const after = await Promise.all(Array.from({ length: 12 }, (_, i) => lookup(2000 + i)));
    expect(after.every((reply) => reply.outcome === 'found' && reply.connector.instanceId === 'ps-b')).toBe(
      true,
    );
    expect(second.stats().replied.found).toBeGreaterThanOrEqual(12);
  });
});
