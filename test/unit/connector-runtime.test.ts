import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CertificateHandler, LookupFailure } from '../../connectors/runtime/certificate-handler.js';
import {
  type Connector,
  type ConnectorOptions,
  createConnector,
} from '../../connectors/runtime/connector-runtime.js';
import { createLookupRequester, type LookupRequester } from '../../connectors/testing/lookup-requester.js';
import { createInProcessBus } from '../../gateway/bus/in-process-bus.js';
import { createProviderSignatures } from '../../gateway/lookups/provider-signatures.js';
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import { readDisclosure } from '../../gateway/protocol/department-signature.js';
import type { HeartbeatEnvelope } from '../../gateway/protocol/envelopes.js';
import { topicNames } from '../../gateway/protocol/topics.js';
import { credentialsOf, departmentIdentity } from '../support/department-keys.js';

const DEPARTMENT = 'market-regulation';
const LICENCE = { unifiedSocialCreditCode: '91350100M000100Y43', name: 'Fuzhou Minjiang Tea Co., Ltd.' };

function captureLogs() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** A handler that answers from a map keyed by credit code. */
function mapHandler(records: Record<string, Record<string, unknown>>): CertificateHandler {
  return {
    schemaVersion: 1,
    async lookup(request) {
      return records[String(request.subject.unifiedSocialCreditCode)];
    },
  };
}

/** A promise with its resolve function, for handlers the test releases when it chooses. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const identity = departmentIdentity(DEPARTMENT);

describe('connector runtime (in-process bus)', () => {
  let bus: Bus;
  let prefix: string;
  let requester: LookupRequester;
  let logs: ReturnType<typeof captureLogs>;
  const connectors: Connector[] = [];

  beforeEach(async () => {
    bus = createInProcessBus({ logger: pino({ level: 'silent' }) });
    prefix = `t${randomBytes(4).toString('hex')}`;
    logs = captureLogs();
    requester = createLookupRequester({ bus, topicPrefix: prefix });
    await requester.start();
  });

  afterEach(async () => {
    await Promise.all(connectors.splice(0).map((connector) => connector.stop()));
    await requester.stop();
    await bus.close();
  });

  async function startConnector(overrides: Partial<ConnectorOptions> = {}): Promise<Connector> {
    const connector = createConnector({
      bus,
      department: DEPARTMENT,
      topicPrefix: prefix,
      signer: identity.signer,
      handlers: { 'business-licence': mapHandler({ [LICENCE.unifiedSocialCreditCode]: LICENCE }) },
      logger: logs.logger,
      ...overrides,
    });
    connectors.push(connector);
    await connector.start();
    return connector;
  }

  /** Collects every message on a topic, from its beginning. */
  async function watch(topic: string): Promise<IncomingMessage[]> {
    const seen: IncomingMessage[] = [];
    await bus.ensureTopics([topic]);
    const subscription = await bus.subscribe({
      topics: [topic],
      groupId: `${prefix}.watch.${randomBytes(3).toString('hex')}`,
      fromBeginning: true,
      handle: async (message) => {
        seen.push(message);
      },
    });
    connectors.push({ stop: () => subscription.stop() } as Connector);
    return seen;
  }

  describe('replies', () => {
    it('answers found with the record, the lookup id as correlation id, and the request key', async () => {
      const connector = await startConnector({ instanceId: 'mr-1' });
      const reply = await requester.lookup(DEPARTMENT, {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: LICENCE.unifiedSocialCreditCode },
      });
      expect(reply).toMatchObject({
        version: 1,
        outcome: 'found',
        certificateType: 'business-licence',
        schemaVersion: 1,
        record: LICENCE,
        connector: { department: DEPARTMENT, instanceId: 'mr-1' },
      });
      const message = requester.replies.at(-1) as IncomingMessage;
      expect(message.headers.kafka_correlationId).toBe(reply.lookupId);
      expect(message.headers['content-type']).toBe('application/json');
      expect(message.key).toMatch(/^[0-9a-f]{32}$/);
      expect(connector.stats().replied.found).toBe(1);
    });

    it('signs every reply for its department: the gateway checks each field against the signed digests', async () => {
      const signatures = createProviderSignatures(credentialsOf(identity));
      await startConnector();
      const found = await requester.lookup(DEPARTMENT, {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: LICENCE.unifiedSocialCreditCode },
      });
      const checked = await signatures.verifyReply(found as unknown as Record<string, unknown>, DEPARTMENT);
      expect(checked.keyId).toBe(`${identity.systemId}#${identity.kid}`);
      expect(Object.keys(checked.disclosures).sort()).toEqual(Object.keys(LICENCE).sort());
      // Each field hides behind a salt of its own: 128 random bits, 22 base64url characters.
      const salts = Object.values(checked.disclosures).map((disclosure) => readDisclosure(disclosure).salt);
      expect(new Set(salts).size).toBe(salts.length);
      for (const salt of salts) expect(salt).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const notFound = await requester.lookup(DEPARTMENT, {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: '91110000000000000X' },
      });
      await expect(
        signatures.verifyReply(notFound as unknown as Record<string, unknown>, DEPARTMENT),
      ).resolves.toBeDefined();

      // Whatever is changed after signing is caught: a field's value, the outcome, the department.
      const altered = { ...found, record: { ...found.record, name: '别的公司' } };
      await expect(
        signatures.verifyReply(altered as unknown as Record<string, unknown>, DEPARTMENT),
      ).rejects.toThrow("field 'name': the disclosed value differs from the record's");
      await expect(
        signatures.verifyReply(
          { ...notFound, outcome: 'error', error: { code: 'adapter-failed' } },
          DEPARTMENT,
        ),
      ).rejects.toThrow('the signed outcome differs');
      await expect(
        signatures.verifyReply(found as unknown as Record<string, unknown>, 'civil-affairs'),
      ).rejects.toThrow("signed with a key of department 'market-regulation', not 'civil-affairs'");
    });

    it('answers not-found without a record', async () => {
      await startConnector();
      const reply = await requester.lookup(DEPARTMENT, {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: '91110000000000000X' },
      });
      expect(reply.outcome).toBe('not-found');
      expect(reply).not.toHaveProperty('record');
    });

    it('turns a handler exception into an adapter-failed reply that reveals nothing of the error', async () => {
      const connector = await startConnector({
        handlers: {
          'business-licence': {
            schemaVersion: 1,
            lookup: async () => {
              throw new Error('connect ECONNREFUSED db.mr.internal:5432 while looking up 91350100M000100Y43');
            },
          },
        },
      });
      const reply = await requester.lookup(DEPARTMENT, {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: LICENCE.unifiedSocialCreditCode },
      });
      expect(reply.outcome).toBe('error');
      expect(reply.error?.code).toBe('adapter-failed');
      expect(reply.error?.message).not.toMatch(/ECONNREFUSED|internal|91350100|at /);
      expect(reply).not.toHaveProperty('record');
      // The department still sees what happened, and the connector keeps serving.
      expect(logs.lines.some((line) => line.msg === 'handler failed')).toBe(true);
      expect(connector.stats().replied.error).toBe(1);
      const next = await requester.lookup(DEPARTMENT, { certificateType: 'business-licence', subject: {} });
      expect(next.outcome).toBe('error');
    });

    it('passes on the code and public message of a LookupFailure', async () => {
      await startConnector({
        handlers: {
          'business-licence': {
            schemaVersion: 1,
            lookup: async () => {
              throw new LookupFailure('ambiguous-subject', 'More than one record matches the subject.');
            },
          },
        },
      });
      const reply = await requester.lookup(DEPARTMENT, {
        certificateType: 'business-licence',
        subject: { x: '1' },
      });
      expect(reply.error).toEqual({
        code: 'ambiguous-subject',
        message: 'More than one record matches the subject.',
      });
    });

    it('answers unsupported-certificate-type for a type it has no handler for', async () => {
      await startConnector();
      const reply = await requester.lookup(DEPARTMENT, {
        certificateType: 'food-business-licence',
        subject: { licenceNumber: 'JY13501020000012' },
      });
      expect(reply).toMatchObject({ outcome: 'error', error: { code: 'unsupported-certificate-type' } });
    });

    it('answers unsupported-schema-version when asked for a schema version it does not produce', async () => {
      await startConnector();
      const reply = await requester.lookup(DEPARTMENT, {
        certificateType: 'business-licence',
        schemaVersion: 2,
        subject: { unifiedSocialCreditCode: LICENCE.unifiedSocialCreditCode },
      });
      expect(reply).toMatchObject({ outcome: 'error', error: { code: 'unsupported-schema-version' } });
    });

    it('does not send a record the validator rejects, and says so', async () => {
      await startConnector({
        validateRecord: () => ({ ok: false, errors: [{ pointer: '/name', reason: 'must be string' }] }),
      });
      const reply = await requester.lookup(DEPARTMENT, {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: LICENCE.unifiedSocialCreditCode },
      });
      expect(reply).toMatchObject({ outcome: 'error', error: { code: 'invalid-record' } });
      expect(reply).not.toHaveProperty('record');
    });

    it('treats a handler that returns a non-object as failed', async () => {
      await startConnector({
        handlers: { 'business-licence': { schemaVersion: 1, lookup: async () => 'yes' as never } },
      });
      const reply = await requester.lookup(DEPARTMENT, {
        certificateType: 'business-licence',
        subject: { a: '1' },
      });
      expect(reply).toMatchObject({ outcome: 'error', error: { code: 'adapter-failed' } });
    });

    it('answers adapter-failed when a handler outlives the handler timeout but the deadline is still ahead', async () => {
      let signal: AbortSignal | undefined;
      await startConnector({
        handlerTimeoutMs: 50,
        handlers: {
          'business-licence': {
            schemaVersion: 1,
            lookup: (_request, abort) => {
              signal = abort;
              return new Promise(() => {});
            },
          },
        },
      });
      const reply = await requester.lookup(
        DEPARTMENT,
        { certificateType: 'business-licence', subject: { a: '1' } },
        10_000,
      );
      expect(reply).toMatchObject({ outcome: 'error', error: { code: 'adapter-failed' } });
      expect(signal?.aborted).toBe(true);
    });
  });

  describe('records it cannot answer', () => {
    it('dead-letters a record that is not JSON, with the reason and the original headers', async () => {
      const connector = await startConnector();
      const deadLetters = await watch(topicNames(prefix).deadLetters);
      await requester.send(
        DEPARTMENT,
        '{"version":1,',
        { kafka_replyTopic: requester.replyTopic, trace: 'abc' },
        'k1',
      );
      await vi.waitFor(() => expect(deadLetters).toHaveLength(1));
      const letter = deadLetters[0] as IncomingMessage;
      expect(letter.value).toBe('{"version":1,');
      expect(letter.key).toBe('k1');
      expect(letter.headers.trace).toBe('abc');
      expect(letter.headers.kafka_replyTopic).toBe(requester.replyTopic);
      expect(letter.headers.silobridge_dead_letter_reason).toMatch(/not valid JSON/);
      expect(requester.replies).toHaveLength(0);
      expect(connector.stats().deadLettered).toBe(1);
    });

    it('dead-letters a request without a reply topic header', async () => {
      await startConnector();
      const deadLetters = await watch(topicNames(prefix).deadLetters);
      const request = requester.envelope({ certificateType: 'business-licence', subject: { a: '1' } });
      await requester.send(DEPARTMENT, JSON.stringify(request), { kafka_correlationId: request.lookupId });
      await vi.waitFor(() => expect(deadLetters).toHaveLength(1));
      expect(deadLetters[0]?.headers.silobridge_dead_letter_reason).toMatch(/kafka_replyTopic/);
    });

    it('dead-letters a request whose reply topic is not a lookup reply topic', async () => {
      await startConnector();
      const deadLetters = await watch(topicNames(prefix).deadLetters);
      const request = requester.envelope({ certificateType: 'business-licence', subject: { a: '1' } });
      await requester.send(DEPARTMENT, JSON.stringify(request), {
        kafka_correlationId: request.lookupId,
        kafka_replyTopic: topicNames(prefix).lookupRequests('public-security'),
      });
      await vi.waitFor(() => expect(deadLetters).toHaveLength(1));
      expect(deadLetters[0]?.headers.silobridge_dead_letter_reason).toMatch(/not a reply topic/);
    });

    it('dead-letters an envelope the schema validator rejects, and one missing what the runtime needs', async () => {
      await startConnector({
        validateRequest: (value) =>
          (value as { purpose?: unknown }).purpose
            ? { ok: true }
            : { ok: false, errors: [{ pointer: '', reason: "must have required property 'purpose'" }] },
      });
      const deadLetters = await watch(topicNames(prefix).deadLetters);
      const headers = { kafka_replyTopic: requester.replyTopic };
      const { purpose: _, ...withoutPurpose } = requester.envelope({
        certificateType: 'business-licence',
        subject: { a: '1' },
      });
      await requester.send(DEPARTMENT, JSON.stringify(withoutPurpose), headers, 'same-key');
      const noDeadline = {
        ...requester.envelope({ certificateType: 'business-licence', subject: { a: '1' } }),
        deadline: 'soon',
      };
      await requester.send(DEPARTMENT, JSON.stringify(noDeadline), headers, 'same-key');
      await vi.waitFor(() => expect(deadLetters).toHaveLength(2));
      expect(deadLetters.map((letter) => letter.headers.silobridge_dead_letter_reason)).toEqual([
        expect.stringMatching(/required property 'purpose'/),
        expect.stringMatching(/deadline/),
      ]);
      expect(requester.replies).toHaveLength(0);
    });

    it('drops a request whose deadline has passed without calling the handler or replying', async () => {
      const lookup = vi.fn(async () => LICENCE);
      const connector = await startConnector({
        handlers: { 'business-licence': { schemaVersion: 1, lookup } },
      });
      const expired = requester.envelope({
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: LICENCE.unifiedSocialCreditCode },
        deadline: new Date(Date.now() - 1000).toISOString(),
      });
      await requester.send(
        DEPARTMENT,
        JSON.stringify(expired),
        { kafka_replyTopic: requester.replyTopic },
        'one-key',
      );
      await vi.waitFor(() => expect(connector.stats().expired).toBe(1));
      expect(lookup).not.toHaveBeenCalled();
      expect(requester.replies).toHaveLength(0);
      expect(logs.lines.find((line) => line.lookupId === expired.lookupId)?.msg).toMatch(
        /deadline had passed/,
      );
    });

    it('aborts a handler still running at the deadline and sends no reply', async () => {
      let signal: AbortSignal | undefined;
      const connector = await startConnector({
        handlers: {
          'business-licence': {
            schemaVersion: 1,
            lookup: (_request, abort) => {
              signal = abort;
              return new Promise(() => {});
            },
          },
        },
      });
      const late = requester.lookup(
        DEPARTMENT,
        { certificateType: 'business-licence', subject: { a: '1' } },
        100,
      );
      await expect(late).rejects.toThrow(/no reply/);
      await vi.waitFor(() => expect(connector.stats().expired).toBe(1));
      expect(signal?.aborted).toBe(true);
      expect(requester.replies).toHaveLength(0);
    });
  });

  describe('heartbeats', () => {
    it('announces up with its certificate types at start, repeats it, and says down on stop', async () => {
      const heartbeats = await watch(topicNames(prefix).heartbeats);
      const connector = await startConnector({ instanceId: 'mr-7', heartbeatIntervalMs: 20 });
      const bodies = () => heartbeats.map((message) => JSON.parse(message.value) as HeartbeatEnvelope);
      await vi.waitFor(() => expect(bodies().length).toBeGreaterThanOrEqual(3));
      expect(bodies()[0]).toMatchObject({
        version: 1,
        department: DEPARTMENT,
        instanceId: 'mr-7',
        certificateTypes: [{ certificateType: 'business-licence', schemaVersion: 1 }],
        state: 'up',
        intervalMs: 20,
      });
      expect(heartbeats[0]?.key).toBe(`${DEPARTMENT}/mr-7`);
      // Signed: a payload equal to the heartbeat itself, by the department's connector key.
      const signatures = createProviderSignatures(credentialsOf(identity));
      await expect(
        signatures.verifyHeartbeat(bodies()[0] as unknown as Record<string, unknown>),
      ).resolves.toBeUndefined();
      await expect(
        signatures.verifyHeartbeat({ ...bodies()[0], state: 'down' } as unknown as Record<string, unknown>),
      ).rejects.toThrow('the signed heartbeat differs from the one sent');

      await connector.stop();
      await vi.waitFor(() => expect(bodies().at(-1)?.state).toBe('down'));
      const count = bodies().length;
      // Nothing after the final `down`: the interval timer is gone.
      await requester
        .lookup(DEPARTMENT, { certificateType: 'business-licence', subject: {} }, 50)
        .catch(() => {});
      expect(bodies()).toHaveLength(count);
      expect(bodies().filter((body) => body.state === 'down')).toHaveLength(1);
    });
  });

  describe('concurrency and shutdown', () => {
    it('never runs more than `concurrency` handlers at once', async () => {
      let running = 0;
      let most = 0;
      const release = gate();
      await startConnector({
        concurrency: 2,
        handlers: {
          'business-licence': {
            schemaVersion: 1,
            async lookup() {
              running += 1;
              most = Math.max(most, running);
              await release.opened;
              running -= 1;
              return undefined;
            },
          },
        },
      });
      const lookups = Array.from({ length: 8 }, (_, i) =>
        requester.lookup(
          DEPARTMENT,
          { certificateType: 'business-licence', subject: { n: String(i) } },
          10_000,
        ),
      );
      await vi.waitFor(() => expect(running).toBe(2));
      release.open();
      const replies = await Promise.all(lookups);
      expect(replies.every((reply) => reply.outcome === 'not-found')).toBe(true);
      expect(most).toBe(2);
    });

    it('stop() announces down, then waits for in-flight lookups to be answered', async () => {
      const heartbeats = await watch(topicNames(prefix).heartbeats);
      const release = gate();
      let started = false;
      const connector = await startConnector({
        handlers: {
          'business-licence': {
            schemaVersion: 1,
            async lookup() {
              started = true;
              await release.opened;
              return LICENCE;
            },
          },
        },
      });
      const reply = requester.lookup(
        DEPARTMENT,
        { certificateType: 'business-licence', subject: { a: '1' } },
        10_000,
      );
      await vi.waitFor(() => expect(started).toBe(true));
      let stopped = false;
      const stopping = connector.stop().then(() => {
        stopped = true;
      });
      await vi.waitFor(() =>
        expect(heartbeats.some((message) => JSON.parse(message.value).state === 'down')).toBe(true),
      );
      expect(stopped).toBe(false);
      release.open();
      await stopping;
      // Produced before stop() resolved; the requester receives it on a later turn.
      expect(connector.stats().replied.found).toBe(1);
      expect((await reply).outcome).toBe('found');
    });
  });

  describe('configuration', () => {
    it('rejects a department code that cannot name a topic, a bad instance id, and a connector with no handlers', () => {
      const handlers = { 'business-licence': mapHandler({}) };
      expect(() =>
        createConnector({
          bus,
          department: DEPARTMENT,
          instanceId: 'a/b',
          topicPrefix: prefix,
          signer: identity.signer,
          handlers,
          logger: logs.logger,
        }),
      ).toThrow(/invalid instanceId/);
      expect(() =>
        createConnector({
          bus,
          department: 'Market Regulation',
          topicPrefix: prefix,
          signer: identity.signer,
          handlers: {},
          logger: logs.logger,
        }),
      ).toThrow(/invalid department code/);
      expect(() =>
        createConnector({
          bus,
          department: DEPARTMENT,
          topicPrefix: prefix,
          signer: identity.signer,
          handlers: {},
          logger: logs.logger,
        }),
      ).toThrow(/no certificate handlers/);
      expect(() =>
        createConnector({
          bus,
          department: DEPARTMENT,
          topicPrefix: prefix,
          signer: departmentIdentity('civil-affairs').signer,
          handlers,
          logger: logs.logger,
        }),
      ).toThrow(/belongs to department civil-affairs, not market-regulation/);
    });

    it('consumes as the department consumer group', async () => {
      const connector = await startConnector();
      expect(connector.groupId).toBe(`${prefix}.connector.${DEPARTMENT}`);
      expect(connector.requestTopic).toBe(`${prefix}.lookup-requests.${DEPARTMENT}`);
    });
  });
});
