/**
 * Certificate lookups end to end over a real Kafka broker: gateway instances and department connectors
 * on their own Kafka clients, as in production, with a topic prefix of their own.
 */

import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { CertificateHandler } from '../../connectors/runtime/certificate-handler.js';
import { type Connector, createConnector } from '../../connectors/runtime/connector-runtime.js';
import { createSampleHandlers } from '../../connectors/samples/sample-connectors.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { usccCheckChar } from '../../gateway/catalog/identifiers.js';
import { type SampleConnectors, startAllSampleConnectors } from '../../gateway/demo/run-sample-connector.js';
import { sampleSeedDir } from '../../gateway/foundation/paths.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import { CORRELATION_HEADER, DEAD_LETTER_REASON_HEADER, topicNames } from '../../gateway/protocol/topics.js';
import { demoConnectorSigners } from '../support/department-keys.js';
import { CERTIFICATE_TYPES, lookupBody, PURPOSE } from '../support/lookup-fixtures.js';
import {
  announcedInstances,
  createTestGatewayEnvironment,
  OPERATOR,
  type TestClient,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const brokers = inject('kafkaBrokers');
const logger = pino({ level: 'silent' });
const prefix = `lookups-${randomBytes(4).toString('hex')}`;
const topics = topicNames(prefix);
const TIMEOUT_MS = 1500;

/** How the civil-affairs connector answers: the sample data, a broken record, or too slowly. */
let civilAffairsMode: 'sample' | 'invalid-record' | 'slow' = 'sample';
const sampleMarriages = createSampleHandlers('civil-affairs', sampleSeedDir)[
  'marriage-certificate'
] as CertificateHandler;
const civilAffairs: CertificateHandler = {
  schemaVersion: 1,
  async lookup(request, signal) {
    if (civilAffairsMode === 'invalid-record') return { registeredOn: 'yesterday', spouses: 'two' };
    if (civilAffairsMode === 'slow') {
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      return undefined;
    }
    return sampleMarriages.lookup(request, signal);
  },
};

function kafkaBus(name: string): Bus {
  return createKafkaBus({ brokers: brokers.split(','), clientId: `${prefix}-${name}`, logger });
}

async function metric(gateway: RunningGateway, line: RegExp): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const match = text.split('\n').find((row) => line.test(row));
  return match ? Number(match.split(' ').pop()) : 0;
}

describe('certificate lookups over Kafka', () => {
  let env: TestGatewayEnvironment;
  let gateway: RunningGateway;
  let api: TestClient;
  let connectorBus: Bus;
  let samples: SampleConnectors;
  let marriageConnector: Connector;
  const post = (route: string, body: unknown) => api.post(route, body);

  beforeAll(async () => {
    env = await createTestGatewayEnvironment(prefix);
    gateway = await env.start(`${prefix}-gw-a`, { SILOBRIDGE_LOOKUP_TIMEOUT_MS: String(TIMEOUT_MS) });
    api = await env.client(gateway);
    const operator = await env.client(gateway, OPERATOR);
    connectorBus = kafkaBus('connectors');
    const signerFor = await demoConnectorSigners(env.dataDir);
    samples = await startAllSampleConnectors({
      bus: connectorBus,
      topicPrefix: prefix,
      logger,
      heartbeatIntervalMs: 1000,
      signerFor,
    });
    // civil-affairs is served by the test's own connector (the sample one is stopped), to misbehave on demand.
    await samples.connectors.find((connector) => connector.department === 'civil-affairs')?.stop();
    marriageConnector = createConnector({
      bus: connectorBus,
      department: 'civil-affairs',
      instanceId: 'civil-affairs-test',
      topicPrefix: prefix,
      signer: signerFor('civil-affairs'),
      handlers: { 'marriage-certificate': civilAffairs },
      heartbeatIntervalMs: 1000,
      logger,
    });
    await marriageConnector.start();
    await vi.waitFor(
      async () => {
        const { body } = await operator.get('/v1/connectors');
        const live = announcedInstances(body).filter((instance) => instance.live);
        expect(new Set(live.map((instance) => instance.department)).size).toBe(4);
      },
      { timeout: 20_000, interval: 100 },
    );
  }, 60_000);

  afterAll(async () => {
    await marriageConnector?.stop();
    await samples?.stop();
    await connectorBus?.close();
    await env?.cleanup();
  });

  it.each(CERTIFICATE_TYPES)('finds a %s held by its provider department', async (certificateType) => {
    const { status, body } = await post('/v1/lookups', lookupBody(certificateType));
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ certificateType, schemaVersion: 1, lookupId: expect.any(String) });
    expect(body.provider).toMatch(/^(market-regulation|public-security|civil-affairs|natural-resources)$/);
    expect(Object.values(lookupBody(certificateType).subject)[0]).toBe(
      certificateType === 'marriage-certificate'
        ? body.record.spouses[0].residentIdNumber
        : Object.values(lookupBody(certificateType).subject)[0],
    );
    expect(body.record.status).toMatch(/^(valid|revoked|expired)$/);
    // Signed by the gateway (verified against the JWKS in audit-signing.test.ts).
    expect(body.signature).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('returns only the fields asked for', async () => {
    const { status, body } = await post(
      '/v1/lookups',
      lookupBody('business-licence', 0, { fields: ['name', 'status'] }),
    );
    expect(status).toBe(200);
    expect(Object.keys(body.record).sort()).toEqual(['name', 'status']);
  });

  it('answers 404 when the provider holds no such record', async () => {
    const unknownCompany = '91350100MA00000X1'.slice(0, 17);
    const subject = { unifiedSocialCreditCode: unknownCompany + usccCheckChar(unknownCompany) };
    const { status, body } = await post('/v1/lookups', {
      certificateType: 'business-licence',
      subject,
      purpose: PURPOSE,
    });
    expect(status).toBe(404);
    expect(body).toMatchObject({
      type: 'https://silobridge.dev/problems/record-not-found',
      provider: 'market-regulation',
    });
  });

  it('answers 400 naming the identifier when its check digit is wrong', async () => {
    const { status, body } = await post('/v1/lookups', {
      certificateType: 'resident-id-card',
      subject: { residentIdNumber: '350102198501011231' },
      purpose: PURPOSE,
    });
    expect(status).toBe(400);
    expect(body.type).toBe('https://silobridge.dev/problems/invalid-subject');
    expect(body.errors).toEqual([expect.objectContaining({ pointer: '/subject/residentIdNumber' })]);
  });

  it('answers 400 when the purpose is missing', async () => {
    const { certificateType, subject } = lookupBody('resident-id-card');
    const { status, body } = await post('/v1/lookups', { certificateType, subject });
    expect(status).toBe(400);
    expect(body.errors).toEqual([{ pointer: '/purpose', reason: 'is required' }]);
  });

  it('answers 502 for a record that breaks the schema, and dead-letters it', async () => {
    civilAffairsMode = 'invalid-record';
    const deadLetters: IncomingMessage[] = [];
    const watcher = await connectorBus.subscribe({
      topics: [topics.deadLetters],
      groupId: `${prefix}-dead-letter-watch`,
      fromBeginning: true,
      handle: async (message) => {
        deadLetters.push(message);
      },
    });
    try {
      const { status, body } = await post('/v1/lookups', lookupBody('marriage-certificate'));
      expect(status).toBe(502);
      expect(body).toMatchObject({
        type: 'https://silobridge.dev/problems/invalid-provider-record',
        provider: 'civil-affairs',
      });
      expect(JSON.stringify(body)).not.toContain('yesterday');
      await expect
        .poll(() => deadLetters.find((m) => m.headers[CORRELATION_HEADER] === body.lookupId), {
          timeout: 10_000,
        })
        .toBeDefined();
      const letter = deadLetters.find((m) => m.headers[CORRELATION_HEADER] === body.lookupId);
      expect(letter?.headers[DEAD_LETTER_REASON_HEADER]).toMatch(/\/record/);
    } finally {
      civilAffairsMode = 'sample';
      await watcher.stop();
    }
  });

  it('answers 504 when the connector is too slow, and drops and counts its late reply', async () => {
    civilAffairsMode = 'slow';
    try {
      const { status, body, ms } = await post('/v1/lookups', lookupBody('marriage-certificate'));
      expect(status).toBe(504);
      expect(body.type).toBe('https://silobridge.dev/problems/provider-timeout');
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      // A reply that turns up after the deadline must not reach anyone.
      await connectorBus.publish(topics.lookupReplies(`${prefix}-gw-a`), [
        { value: '{}', headers: { [CORRELATION_HEADER]: String(body.lookupId) } },
      ]);
      await expect
        .poll(() => metric(gateway, /silobridge_lookup_replies_dropped_total\{reason="late"\}/))
        .toBe(1);
    } finally {
      civilAffairsMode = 'sample';
    }
  });

  it('answers a batch of 100 item by item, one bad item failing alone', async () => {
    const lookups = Array.from({ length: 100 }, (_, i) =>
      lookupBody(CERTIFICATE_TYPES[i % CERTIFICATE_TYPES.length] as string, i % 8),
    );
    lookups[37] = {
      ...lookups[37],
      subject: { residentIdNumber: '11010519491231002Y' },
    } as (typeof lookups)[number];
    const { status, body } = await post('/v1/lookups:batch', { lookups });
    expect(status).toBe(200);
    expect(body.results).toHaveLength(100);
    expect(body.summary).toEqual({ total: 100, succeeded: 99, failed: 1 });
    expect(body.results[37]).toMatchObject({
      index: 37,
      status: 400,
      problem: { type: 'https://silobridge.dev/problems/invalid-subject' },
    });
    expect(body.results[0]).toMatchObject({
      index: 0,
      status: 200,
      lookup: { certificateType: 'business-licence' },
    });
  });

  it('refuses a batch of more than 100', async () => {
    const { status, body } = await post('/v1/lookups:batch', {
      lookups: Array.from({ length: 101 }, () => lookupBody('resident-id-card')),
    });
    expect(status).toBe(400);
    expect(body.errors).toEqual([expect.objectContaining({ pointer: '/lookups' })]);
  });

  it('keeps two gateway instances from receiving each other’s replies', async () => {
    const second = await env.start(`${prefix}-gw-b`, { SILOBRIDGE_LOOKUP_TIMEOUT_MS: String(TIMEOUT_MS) });
    const secondApi = await env.client(second);
    try {
      // As a load balancer would: send traffic once the new instance says it is ready.
      await vi.waitFor(async () => expect((await fetch(`${second.url}/readyz`)).status).toBe(200), {
        timeout: 15_000,
        interval: 200,
      });
      const types = [...CERTIFICATE_TYPES];
      const ask = (client: TestClient, i: number) =>
        client.post('/v1/lookups', lookupBody(types[i % types.length] as string, i % 8));
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => ask(i % 2 ? secondApi : api, i)),
      );
      expect(results.map((r) => r.status)).toEqual(Array(40).fill(200));
      expect(results.map((result) => result.body.certificateType)).toEqual(
        results.map((_, i) => types[i % types.length]),
      );
      for (const gw of [gateway, second]) {
        expect(
          await metric(gw, /silobridge_lookup_replies_dropped_total\{reason="unknown-correlation-id"\}/),
        ).toBe(0);
      }
    } finally {
      await second.close();
    }
  });

  it('answers 503 at once when the provider’s connector has stopped', async () => {
    await marriageConnector.stop();
    const { status, body, ms } = await post('/v1/lookups', lookupBody('marriage-certificate'));
    expect(status).toBe(503);
    expect(body).toMatchObject({
      type: 'https://silobridge.dev/problems/no-live-connector',
      provider: 'civil-affairs',
    });
    expect(ms).toBeLessThan(TIMEOUT_MS / 3);
  });
});
