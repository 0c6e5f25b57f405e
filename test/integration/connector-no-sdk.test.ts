/**
 * The protocol is implementable without our SDK: the plain kafkajs connector printed in
 * docs/protocol.md runs as its own process against the real broker and answers lookups.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLookupRequester, type LookupRequester } from '../../connectors/testing/lookup-requester.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { loadSchemaCatalog, type SchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { projectRoot, schemasDir } from '../../gateway/foundation/paths.js';
import { createProviderSignatures } from '../../gateway/lookups/provider-signatures.js';
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import { REQUEST_TOPIC_PARTITIONS, topicNames } from '../../gateway/protocol/topics.js';
import { collectHeartbeatsAndDeadLetters } from '../support/connector-watch.js';
import { credentialsOf, departmentIdentity } from '../support/department-keys.js';
import { PURPOSE } from '../support/lookup-fixtures.js';
import { announcedInstances, createTestGatewayEnvironment, OPERATOR } from '../support/test-gateway.js';

const SCRIPT = path.join(projectRoot, 'connectors', 'examples', 'plain-kafkajs-connector.mjs');

const identity = departmentIdentity('civil-affairs');

describe('a connector written with plain kafkajs from docs/protocol.md', () => {
  let keyDir: string | undefined;
  const brokers = inject('kafkaBrokers');
  const prefix = `ns${randomBytes(4).toString('hex')}`;
  const topics = topicNames(prefix);
  let bus: Bus;
  let requester: LookupRequester;
  let child: ChildProcess;
  let output = '';
  let catalog: SchemaCatalog;
  const heartbeats: Array<{ instanceId: string; state: string }> = [];
  const deadLetters: IncomingMessage[] = [];
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    catalog = await loadSchemaCatalog(schemasDir);
    bus = createKafkaBus({
      brokers: brokers.split(','),
      clientId: `${prefix}-test`,
      logger: pino({ level: 'silent' }),
    });
    // Created by the gateway in a deployment; the script, like any plain client, expects them to exist.
    await bus.ensureTopics([topics.heartbeats, topics.deadLetters]);
    await bus.ensureTopics([topics.lookupRequests('civil-affairs')], REQUEST_TOPIC_PARTITIONS);
    stops.push(...(await collectHeartbeatsAndDeadLetters(bus, prefix, { heartbeats, deadLetters })));
    requester = createLookupRequester({ bus, topicPrefix: prefix });
    await requester.start();

    keyDir = await mkdtemp(path.join(tmpdir(), 'silobridge-plain-'));
    const keyFile = path.join(keyDir, 'civil-affairs.connector.jwk');
    await writeFile(keyFile, JSON.stringify(identity.privateJwk), { mode: 0o600 });
    child = spawn(process.execPath, [SCRIPT], {
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers,
        SILOBRIDGE_TOPIC_PREFIX: prefix,
        INSTANCE_ID: 'plain-1',
        SYSTEM_ID: identity.systemId,
        SIGNING_KEY_FILE: keyFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    await vi.waitFor(
      () =>
        expect(
          heartbeats.some((beat) => beat.instanceId === 'plain-1' && beat.state === 'up'),
          output,
        ).toBe(true),
      { timeout: 20_000, interval: 50 },
    );
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await requester?.stop();
    for (const stop of stops) await stop();
    await bus?.close();
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
  });

  it('answers found and not-found with the lookup id as correlation id', async () => {
    const found = await requester.lookup(
      'civil-affairs',
      { certificateType: 'marriage-certificate', subject: { residentIdNumber: '350102198702022349' } },
      15_000,
    );
    expect(found).toMatchObject({
      version: 1,
      outcome: 'found',
      record: { certificateNumber: 'J350102-2015-000123' },
      connector: { department: 'civil-affairs', instanceId: 'plain-1' },
    });
    const missing = await requester.lookup(
      'civil-affairs',
      { certificateType: 'marriage-certificate', subject: { residentIdNumber: '11010519491231002X' } },
      15_000,
    );
    expect(missing.outcome).toBe('not-found');
    // Signed for civil-affairs: the checks the gateway makes pass.
    const signatures = createProviderSignatures(credentialsOf(identity));
    await expect(signatures.verifyReply(found as never, 'civil-affairs')).resolves.toMatchObject({
      keyId: `civil-affairs/connector#${identity.kid}`,
    });
    await expect(signatures.verifyReply(missing as never, 'civil-affairs')).resolves.toBeDefined();
    await expect(
      signatures.verifyHeartbeat(heartbeats.find((beat) => beat.instanceId === 'plain-1') as never),
    ).resolves.toBeUndefined();
    // What it sends is what the gateway accepts.
    expect(catalog.validateEnvelope('lookup-reply', found)).toEqual({ ok: true });
    expect(catalog.validateRecord('marriage-certificate', 1, found.record)).toEqual({ ok: true });
    expect(catalog.validateEnvelope('lookup-reply', missing)).toEqual({ ok: true });
    const byNumber = await requester.lookup(
      'civil-affairs',
      { certificateType: 'marriage-certificate', subject: { certificateNumber: 'J350102-2015-000123' } },
      15_000,
    );
    expect(byNumber.outcome).toBe('found');
    expect(requester.replies.map((message) => message.headers.kafka_correlationId)).toEqual([
      found.lookupId,
      missing.lookupId,
      byNumber.lookupId,
    ]);
  });

  it('answers the gateway’s lookups: an approval system gets the record it holds', async () => {
    const env = await createTestGatewayEnvironment(prefix);
    try {
      const gateway = await env.start(`${prefix}-gw`);
      const api = await env.client(gateway);
      const operator = await env.client(gateway, OPERATOR);
      // The department adds the key its connector signs with to its connector system.
      const added = await operator.post('/v1/systems/civil-affairs/connector/keys', {
        jwk: identity.publicJwk,
      });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
      await vi.waitFor(
        async () => {
          const { body } = await operator.get('/v1/connectors');
          expect(announcedInstances(body)).toContainEqual(
            expect.objectContaining({ instanceId: 'plain-1', live: true }),
          );
        },
        { timeout: 15_000, interval: 100 },
      );
      const { status, body } = await api.post('/v1/lookups', {
        certificateType: 'marriage-certificate',
        subject: { residentIdNumber: '350102198702022349' },
        purpose: PURPOSE,
      });
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({
        provider: 'civil-affairs',
        record: { certificateNumber: 'J350102-2015-000123', status: 'valid' },
        departmentSignature: { keyId: `civil-affairs/connector#${identity.kid}` },
      });
      const missing = await api.post('/v1/lookups', {
        certificateType: 'marriage-certificate',
        subject: { residentIdNumber: '11010519491231002X' },
        purpose: PURPOSE,
      });
      expect(missing.status).toBe(404);
    } finally {
      await env.cleanup();
    }
  });

  it('dead-letters a record that is not JSON', async () => {
    await requester.send('civil-affairs', 'not json', { kafka_replyTopic: requester.replyTopic });
    await expect.poll(() => deadLetters.length, { timeout: 15_000 }).toBe(1);
    expect(deadLetters[0]?.headers.silobridge_dead_letter_reason).toBe('not valid JSON');
  });

  it('says down and exits cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
    await expect
      .poll(() => heartbeats.at(-1), { timeout: 10_000 })
      .toMatchObject({ instanceId: 'plain-1', state: 'down' });
  });

  it('is printed in docs/protocol.md exactly as tested, and so is the kcat example', () => {
    const doc = readFileSync(path.join(projectRoot, 'docs', 'protocol.md'), 'utf8');
    expect(doc).toContain(readFileSync(SCRIPT, 'utf8').trim());
    expect(doc).toContain(readFileSync(path.join(path.dirname(SCRIPT), 'kcat-connector.sh'), 'utf8').trim());
  });
});
