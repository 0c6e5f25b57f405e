/**
 * Department onboarding over the real broker and PostgreSQL, as a department team and an approval
 * system meet it: registration (and its refusals), routing only to registered departments, removal
 * with drain, department-signed replies (and what happens to unsigned, forged and foreign ones),
 * signed heartbeats, and checking a saved response offline with only published keys.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { CertificateHandler } from '../../connectors/runtime/certificate-handler.js';
import { type Connector, createConnector } from '../../connectors/runtime/connector-runtime.js';
import { createHeartbeats, type Heartbeats } from '../../connectors/runtime/heartbeats.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { projectRoot } from '../../gateway/foundation/paths.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import {
  type DepartmentSigner,
  signHeartbeat,
  signReply,
} from '../../gateway/protocol/department-signature.js';
import type { LookupReplyEnvelope, LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';
import { CORRELATION_HEADER, REPLY_TOPIC_HEADER, topicNames } from '../../gateway/protocol/topics.js';
import { runNode } from '../support/child-process.js';
import { demoConnectorSigners, departmentIdentity } from '../support/department-keys.js';
import { lookupBody } from '../support/lookup-fixtures.js';
import {
  announcedInstances,
  createTestGatewayEnvironment,
  OPERATOR,
  type TestClient,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const logger = pino({ level: 'silent' });
const prefix = `onb${randomBytes(4).toString('hex')}`;
const topics = topicNames(prefix);
const REAL_ESTATE = 'real-estate-certificate';
const MARRIAGE = 'marriage-certificate';

describe('department onboarding', () => {
  let env: TestGatewayEnvironment;
  let gateway: RunningGateway;
  let api: TestClient;
  let admin: TestClient;
  let naturalResources: TestClient;
  let bus: Bus;
  let signerFor: (department: string) => DepartmentSigner;
  const deadLetters: IncomingMessage[] = [];
  const stops: Array<() => Promise<void>> = [];
  let tmp: string;

  beforeAll(async () => {
    env = await createTestGatewayEnvironment(prefix);
    gateway = await env.start(`${prefix}-gw`, { SILOBRIDGE_LOOKUP_TIMEOUT_MS: '3000' });
    api = await env.client(gateway);
    admin = await env.client(gateway, OPERATOR);
    naturalResources = await env.client(gateway, 'natural-resources/connector');
    signerFor = await demoConnectorSigners(env.dataDir);
    bus = createKafkaBus({ brokers: inject('kafkaBrokers').split(','), clientId: `${prefix}-test`, logger });
    const watch = await bus.subscribe({
      topics: [topics.deadLetters],
      groupId: `${prefix}.watch`,
      fromBeginning: true,
      handle: async (message) => void deadLetters.push(message),
    });
    stops.push(() => watch.stop());
    tmp = await mkdtemp(path.join(tmpdir(), 'silobridge-onboarding-'));
  }, 60_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await bus?.close();
    await env?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function auditRows(sql: string, params: unknown[] = []) {
    const client = new pg.Client({ connectionString: env.database.url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  async function startConnector(department: string, handlers: Record<string, CertificateHandler>) {
    const connector: Connector = createConnector({
      bus,
      department,
      topicPrefix: prefix,
      signer: signerFor(department),
      handlers,
      heartbeatIntervalMs: 500,
      logger,
    });
    await connector.start();
    stops.push(() => connector.stop());
    return connector;
  }

  /** The next real-estate lookup takes 1.5 s (to remove a registration while it is under way). */
  let slowNext = false;
  const realEstate: CertificateHandler = {
    schemaVersion: 1,
    async lookup() {
      if (slowNext) {
        slowNext = false;
        await new Promise((resolve) => setTimeout(resolve, 1500));
      }
      const { record } = JSON.parse(
        await readFile(
          path.join(projectRoot, 'schemas/certificates/real-estate-certificate/1.examples.json'),
          'utf8',
        ),
      ).valid[0];
      return record;
    },
  };

  describe('registration', () => {
    it('refuses, naming the field, what a department may not declare', async () => {
      // The demo registered every sample department; natural-resources starts over.
      const removed = await naturalResources.delete('/v1/connectors/natural-resources');
      expect(removed.status, JSON.stringify(removed.body)).toBe(200);

      const cases: Array<[unknown, number, string, string?]> = [
        [{ certificateTypes: [{ certificateType: 'business-licence' }] }, 403, 'access-denied'],
        [
          { certificateTypes: [{ certificateType: 'land-deed' }] },
          400,
          'unknown-certificate-type',
          '/certificateTypes/0/certificateType',
        ],
        [
          { certificateTypes: [{ certificateType: REAL_ESTATE, schemaVersion: 9 }] },
          400,
          'unknown-schema-version',
          '/certificateTypes/0/schemaVersion',
        ],
        [{ certificateTypes: 'real-estate' }, 400, 'invalid-request', '/certificateTypes'],
        [
          { department: 'civil-affairs', certificateTypes: [{ certificateType: MARRIAGE }] },
          403,
          'access-denied',
        ],
      ];
      for (const [body, status, problem, pointer] of cases) {
        const response = await naturalResources.post('/v1/connectors', body);
        expect(response.status, JSON.stringify(response.body)).toBe(status);
        expect(response.body.type).toBe(`https://silobridge.dev/problems/${problem}`);
        if (pointer) expect(response.body.errors?.[0]?.pointer).toBe(pointer);
      }
      const foreign = await naturalResources.post('/v1/connectors', {
        certificateTypes: [{ certificateType: 'business-licence' }],
      });
      expect(foreign.body.reason).toBe('not-the-provider');
    });

    it('does not route to a department without a registration, even when its connector is live', async () => {
      await startConnector('natural-resources', { [REAL_ESTATE]: realEstate });
      await vi.waitFor(
        async () =>
          expect(announcedInstances((await admin.get('/v1/connectors')).body)).toContainEqual(
            expect.objectContaining({ department: 'natural-resources', live: true, registered: false }),
          ),
        { timeout: 15_000, interval: 100 },
      );
      const response = await api.post('/v1/lookups', lookupBody(REAL_ESTATE));
      expect(response.status).toBe(503);
      expect(response.body.type).toBe('https://silobridge.dev/problems/connector-not-registered');
    });

    it('registers, answering with everything the connector needs, and routes lookups to it', async () => {
      const response = await naturalResources.post('/v1/connectors', {
        certificateTypes: [{ certificateType: REAL_ESTATE }],
      });
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      expect(response.body).toMatchObject({
        id: 'natural-resources',
        certificateTypes: [
          {
            certificateType: REAL_ESTATE,
            schemaVersion: 1,
            schemaId: 'https://silobridge.dev/schemas/certificates/real-estate-certificate/1',
          },
        ],
        topics: {
          requests: `${prefix}.lookup-requests.natural-resources`,
          replyTopicPrefix: `${prefix}.lookup-replies.`,
          heartbeats: `${prefix}.heartbeats`,
          deadLetters: `${prefix}.dead-letters`,
        },
        consumerGroup: `${prefix}.connector.natural-resources`,
        requestTopic: { retentionMs: 3_600_000 },
        signing: { algorithm: 'ES256', keyIds: [signerFor('natural-resources').keyId] },
      });
      expect(response.body.configFile).toContain('department: natural-resources');
      expect(
        (
          await naturalResources.post('/v1/connectors', {
            certificateTypes: [{ certificateType: REAL_ESTATE }],
          })
        ).status,
      ).toBe(409);
      // A refused change is audited like any other refusal.
      expect(
        await auditRows(
          "SELECT event->>'status' AS status, event->>'reason' AS reason FROM audit_events WHERE event->>'kind' = 'access-refused' AND event->>'path' = '/v1/connectors'",
        ),
      ).toContainEqual({ status: '409', reason: 'connector-already-registered' });

      // The request topic holds identifiers in clear: the broker keeps it an hour, not a week.
      const kafkaAdmin = new Kafka({
        brokers: inject('kafkaBrokers').split(','),
        logLevel: logLevel.NOTHING,
      }).admin();
      await kafkaAdmin.connect();
      try {
        const { resources } = await kafkaAdmin.describeConfigs({
          resources: [
            { type: 2, name: `${prefix}.lookup-requests.natural-resources`, configNames: ['retention.ms'] },
          ],
          includeSynonyms: false,
        });
        expect(resources[0]?.configEntries[0]?.configValue).toBe('3600000');
      } finally {
        await kafkaAdmin.disconnect();
      }

      const lookup = await vi.waitFor(
        async () => {
          const answer = await api.post('/v1/lookups', lookupBody(REAL_ESTATE));
          expect(answer.status, JSON.stringify(answer.body)).toBe(200);
          return answer;
        },
        { timeout: 10_000, interval: 200 },
      );
      expect(lookup.body.departmentSignature.keyId).toBe(signerFor('natural-resources').keyId);
      // The audit log says which department key vouched for the record released.
      expect(
        await auditRows(
          "SELECT event->>'providerKeyId' AS key FROM audit_events WHERE event->>'lookupId' = $1",
          [lookup.body.lookupId],
        ),
      ).toEqual([{ key: signerFor('natural-resources').keyId }]);
      await writeFile(path.join(tmp, 'response.json'), JSON.stringify(lookup.body));
    });

    it('removes a registration with drain: new lookups get 503 at once, the one under way finishes', async () => {
      slowNext = true;
      const slow = api.post('/v1/lookups', lookupBody(REAL_ESTATE));
      await new Promise((resolve) => setTimeout(resolve, 400));
      const removed = await admin.delete('/v1/connectors/natural-resources');
      expect(removed.status).toBe(200);
      expect(removed.body.removed).toBe(true);
      const refused = await api.post('/v1/lookups', lookupBody(REAL_ESTATE));
      expect(refused.status).toBe(503);
      expect(refused.body.type).toBe('https://silobridge.dev/problems/connector-not-registered');
      expect(refused.ms).toBeLessThan(1000);
      const finished = await slow;
      expect(finished.status, JSON.stringify(finished.body)).toBe(200);
    });

    it('registers from the command line too', async () => {
      const cli = (args: string[]) =>
        runNode(['--import', 'tsx', 'gateway/cli/silobridge.ts', 'connector', ...args], {
          cwd: projectRoot,
          env: {
            PATH: process.env.PATH ?? '',
            DATABASE_URL: env.database.url,
            SILOBRIDGE_DATA_DIR: env.dataDir,
            SILOBRIDGE_TOPIC_PREFIX: prefix,
            KAFKA_BROKERS: inject('kafkaBrokers'),
          },
        });
      const registered = await cli([
        'register',
        '--department',
        'natural-resources',
        '--type',
        `${REAL_ESTATE}@1`,
      ]);
      expect(registered.code, registered.stderr).toBe(0);
      expect(JSON.parse(registered.stdout)).toMatchObject({ id: 'natural-resources' });
      const listed = await cli(['list']);
      expect(listed.stdout).toMatch(/natural-resources\s+real-estate-certificate@1/);
      const again = await cli(['register', '--department', 'natural-resources', '--type', REAL_ESTATE]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('already has a registered connector');
      await vi.waitFor(
        async () => expect((await api.post('/v1/lookups', lookupBody(REAL_ESTATE))).status).toBe(200),
        { timeout: 10_000, interval: 200 },
      );
    });
  });

  describe('checking a saved response offline', () => {
    const verify = (...args: string[]) =>
      runNode(['--import', 'tsx', 'gateway/cli/silobridge.ts', 'verify', ...args], {
        cwd: projectRoot,
        env: { PATH: process.env.PATH ?? '' },
      });

    beforeAll(async () => {
      for (const [route, file] of [
        ['/.well-known/department-jwks.json', 'department-keys.json'],
        ['/.well-known/jwks.json', 'gateway-keys.json'],
      ] as const) {
        await writeFile(path.join(tmp, file), await (await fetch(`${gateway.url}${route}`)).text());
      }
    });

    it('verifies with only the published keys which department issued each field', async () => {
      const result = await verify(
        path.join(tmp, 'response.json'),
        '--department-keys',
        path.join(tmp, 'department-keys.json'),
        '--gateway-keys',
        path.join(tmp, 'gateway-keys.json'),
      );
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain(
        `ok      department signature by ${signerFor('natural-resources').keyId}`,
      );
      expect(result.stdout).toContain("ok      field 'certificateNumber' as issued by natural-resources");
      expect(result.stdout).toMatch(/ok {6}gateway signature: this record/);
      expect(result.stdout.trim().split('\n').at(-1)).toBe('VERIFIED');
    });

    it('fails for a changed field, and for keys the department never published', async () => {
      const saved = JSON.parse(await readFile(path.join(tmp, 'response.json'), 'utf8'));
      const field = Object.keys(saved.record)[0] as string;
      await writeFile(
        path.join(tmp, 'changed.json'),
        JSON.stringify({ ...saved, record: { ...saved.record, [field]: 'changed' } }),
      );
      const changed = await verify(
        path.join(tmp, 'changed.json'),
        '--department-keys',
        path.join(tmp, 'department-keys.json'),
      );
      expect(changed.code).toBe(1);
      expect(changed.stdout).toContain(
        `FAILED  field '${field}': its disclosed value differs from the record's`,
      );

      await writeFile(
        path.join(tmp, 'other-keys.json'),
        JSON.stringify({ keys: [departmentIdentity('natural-resources').publicJwk] }),
      );
      const unknown = await verify(
        path.join(tmp, 'response.json'),
        '--department-keys',
        path.join(tmp, 'other-keys.json'),
      );
      expect(unknown.code).toBe(1);
      expect(unknown.stdout).toContain('is not among the published department keys');
    });
  });

  describe('replies the gateway refuses', () => {
    type Mode = 'good' | 'unsigned' | 'unregistered-key' | 'foreign-key' | 'tampered' | 'other-lookup';
    let mode: Mode = 'good';
    let heartbeats: Heartbeats;
    const stranger = departmentIdentity('civil-affairs', 'stranger');

    beforeAll(async () => {
      // A hand-made civil-affairs connector that misbehaves on demand.
      const subscription = await bus.subscribe({
        topics: [topics.lookupRequests('civil-affairs')],
        groupId: `${prefix}.connector.civil-affairs`,
        fromBeginning: true,
        handle: async (message) => {
          const request = JSON.parse(message.value) as LookupRequestEnvelope;
          const { record } = JSON.parse(
            await readFile(
              path.join(projectRoot, 'schemas/certificates/marriage-certificate/1.examples.json'),
              'utf8',
            ),
          ).valid[0];
          const reply: LookupReplyEnvelope = {
            version: 1,
            lookupId: mode === 'other-lookup' ? randomUUID() : request.lookupId,
            certificateType: request.certificateType,
            schemaVersion: 1,
            outcome: 'found',
            record,
            connector: { department: 'civil-affairs', instanceId: 'ca-handmade' },
          };
          const signer =
            mode === 'unregistered-key'
              ? stranger.signer
              : mode === 'foreign-key'
                ? signerFor('market-regulation')
                : signerFor('civil-affairs');
          let value: Record<string, unknown> =
            mode === 'unsigned' ? { ...reply } : { ...reply, ...(await signReply(signer, reply)) };
          if (mode === 'tampered') value = { ...value, record: { ...record, status: 'revoked' } };
          await bus.publish(message.headers[REPLY_TOPIC_HEADER] as string, [
            {
              key: message.key,
              value: JSON.stringify(value),
              headers: { [CORRELATION_HEADER]: request.lookupId },
            },
          ]);
        },
      });
      stops.push(() => subscription.stop());
      heartbeats = createHeartbeats({
        bus,
        topic: topics.heartbeats,
        department: 'civil-affairs',
        instanceId: 'ca-handmade',
        certificateTypes: [{ certificateType: MARRIAGE, schemaVersion: 1 }],
        intervalMs: 500,
        signer: signerFor('civil-affairs'),
        logger,
      });
      await heartbeats.start();
      stops.push(() => heartbeats.stop());
      await vi.waitFor(
        async () => expect((await api.post('/v1/lookups', lookupBody(MARRIAGE))).status).toBe(200),
        { timeout: 15_000, interval: 200 },
      );
    }, 30_000);

    it.each([
      ['unsigned', 'provider-signature-invalid', 'the reply is not signed'],
      [
        'unregistered-key',
        'provider-signature-invalid',
        "signed for system 'civil-affairs/stranger', which is not registered",
      ],
      [
        'foreign-key',
        'provider-signature-invalid',
        "signed with a key of department 'market-regulation', not 'civil-affairs'",
      ],
      [
        'tampered',
        'provider-signature-invalid',
        "field 'status': the disclosed value differs from the record's",
      ],
      ['other-lookup', 'mismatched-provider-reply', 'the reply answers lookup'],
    ] as const)('a reply %s is a 502 %s and a dead letter', async (replyMode, problem, reason) => {
      mode = replyMode;
      const before = deadLetters.length;
      const response = await api.post('/v1/lookups', lookupBody(MARRIAGE));
      mode = 'good';
      expect(response.status, JSON.stringify(response.body)).toBe(502);
      expect(response.body.type).toBe(`https://silobridge.dev/problems/${problem}`);
      expect(response.body.detail).toContain(reason);
      expect(response.body.detail).not.toContain('schema');
      await vi.waitFor(() => expect(deadLetters.length).toBeGreaterThan(before), { timeout: 10_000 });
      expect(deadLetters.at(-1)?.headers.silobridge_dead_letter_reason).toContain(reason);
    });

    it('ignores a forged "down": only the department itself can take its connector offline', async () => {
      const down = (signature?: string) => ({
        version: 1,
        department: 'civil-affairs',
        instanceId: 'ca-handmade',
        certificateTypes: [{ certificateType: MARRIAGE, schemaVersion: 1 }],
        state: 'down',
        intervalMs: 500,
        sentAt: new Date(Date.now() + 60_000).toISOString(),
        ...(signature ? { signature } : {}),
      });
      const forged = down();
      await bus.publish(topics.heartbeats, [
        { key: 'civil-affairs/ca-handmade', value: JSON.stringify(forged) },
        {
          key: 'civil-affairs/ca-handmade',
          value: JSON.stringify({
            ...forged,
            signature: await signHeartbeat(signerFor('market-regulation'), forged),
          }),
        },
      ]);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect((await api.post('/v1/lookups', lookupBody(MARRIAGE))).status).toBe(200);

      // The department's own `down` does take it offline.
      await heartbeats.stop();
      await vi.waitFor(
        async () => {
          const response = await api.post('/v1/lookups', lookupBody(MARRIAGE));
          expect(response.status).toBe(503);
          expect(response.body.type).toBe('https://silobridge.dev/problems/no-live-connector');
        },
        { timeout: 10_000, interval: 200 },
      );
    });
  });
});
