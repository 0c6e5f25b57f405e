/**
 * The protocol is implementable in plain Java: connectors/examples/java (kafka-clients, Jackson and the
 * JDK's ECDSA, nothing from SiloBridge) is built with Maven, runs as its own process against the real
 * broker, and answers lookups with replies and heartbeats that the department's registered key verifies.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLookupRequester, type LookupRequester } from '../../connectors/testing/lookup-requester.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { loadSchemaCatalog, type SchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { projectRoot, sampleSeedDir, schemasDir } from '../../gateway/foundation/paths.js';
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import {
  decodeCompactJws,
  disclosureDigest,
  readDisclosure,
  verifiesWith,
} from '../../gateway/protocol/department-signature.js';
import { unkeyedSubjectKey } from '../../gateway/protocol/subject-key.js';
import { REQUEST_TOPIC_PARTITIONS, topicNames } from '../../gateway/protocol/topics.js';
import { findJava } from '../kafka/kafka-jars.js';
import { lastLines, runCommand } from '../kafka/run-command.js';
import { PURPOSE } from '../support/lookup-fixtures.js';
import { createTestGatewayEnvironment, lookupThroughGateway } from '../support/test-gateway.js';

const PROJECT = path.join(projectRoot, 'connectors', 'examples', 'java');
const JAR = path.join(PROJECT, 'target', 'silobridge-java-connector.jar');
const SEED_FILE = path.join(sampleSeedDir, 'marriage-certificate.json');
const DEPARTMENT = 'civil-affairs';
const SYSTEM_ID = 'civil-affairs/marriage-connector';
const INSTANCE_ID = 'java-1';
const HEARTBEAT_INTERVAL_MS = 1000;

interface SeedEntry {
  subject: Record<string, string | string[]>;
  record: Record<string, unknown>;
}
const seed = JSON.parse(readFileSync(SEED_FILE, 'utf8')) as SeedEntry[];
const married = seed[0] as SeedEntry;
const SPOUSE_ID = (married.subject.residentIdNumber as string[])[1] as string;

/** What the Java connector sends, read as plain JSON (the envelope types are being extended). */
interface SignedReply {
  version: number;
  lookupId: string;
  outcome: string;
  certificateType: string;
  schemaVersion: number;
  record?: Record<string, unknown>;
  error?: { code: string; message?: string };
  connector: { department: string; instanceId: string };
  disclosures?: Record<string, string>;
  signature?: string;
}
type Heartbeat = Record<string, unknown> & { instanceId: string; state: string; signature?: string };

/** Builds the example with Maven (a no-op when target/ is current); fails with Maven's words. */
async function buildWithMaven(): Promise<void> {
  const started = Date.now();
  const build = await runCommand('mvn', ['-q', '-B', '-f', path.join(PROJECT, 'pom.xml'), 'package']);
  if (build.missing) {
    throw new Error(
      'Maven (mvn) was not found: this test builds connectors/examples/java with it. Install Maven ' +
        '(e.g. apt-get install maven) and Java 17.',
    );
  }
  if (build.code !== 0) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
    const output = build.output.replace(/\x1b\[[0-9;]*m/g, '');
    throw new Error(`mvn package failed in ${PROJECT} (exit code ${build.code}):\n${lastLines(output, 30)}`);
  }
  process.stderr.write(`[java-connector] mvn package took ${Date.now() - started} ms\n`);
}

describe('a connector written in plain Java (kafka-clients) from docs/protocol.md', () => {
  const brokers = inject('kafkaBrokers');
  const prefix = `ns${randomBytes(4).toString('hex')}`;
  const topics = topicNames(prefix);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  let bus: Bus;
  let requester: LookupRequester;
  let catalog: SchemaCatalog;
  let child: ChildProcess;
  let keyDir: string;
  let output = '';
  const heartbeats: Array<{ key: string | undefined; value: Heartbeat }> = [];
  const deadLetters: IncomingMessage[] = [];
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    await buildWithMaven();
    const java = await findJava();
    catalog = await loadSchemaCatalog(schemasDir);

    // The department's connector system key: the private half for the connector, as a JWK file.
    keyDir = await mkdtemp(path.join(tmpdir(), 'silobridge-java-connector-'));
    const keyFile = path.join(keyDir, 'signing-key.jwk.json');
    await writeFile(keyFile, JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid: 'k1' }), {
      mode: 0o600,
    });

    bus = createKafkaBus({
      brokers: brokers.split(','),
      clientId: `${prefix}-test`,
      logger: pino({ level: 'silent' }),
    });
    // Created by the gateway in a deployment; the example, like any plain client, expects them to exist.
    await bus.ensureTopics([topics.heartbeats, topics.deadLetters]);
    await bus.ensureTopics([topics.lookupRequests(DEPARTMENT)], REQUEST_TOPIC_PARTITIONS);
    const heartbeatWatch = await bus.subscribe({
      topics: [topics.heartbeats],
      groupId: `${prefix}.watch.heartbeats`,
      fromBeginning: true,
      handle: async (message) => {
        heartbeats.push({ key: message.key, value: JSON.parse(message.value) });
      },
    });
    const deadLetterWatch = await bus.subscribe({
      topics: [topics.deadLetters],
      groupId: `${prefix}.watch.dead-letters`,
      fromBeginning: true,
      handle: async (message) => {
        deadLetters.push(message);
      },
    });
    stops.push(
      () => heartbeatWatch.stop(),
      () => deadLetterWatch.stop(),
    );
    requester = createLookupRequester({ bus, topicPrefix: prefix });
    await requester.start();

    child = spawn(java, ['-jar', JAR], {
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers,
        SILOBRIDGE_TOPIC_PREFIX: prefix,
        DEPARTMENT,
        SYSTEM_ID,
        SIGNING_KEY_FILE: keyFile,
        SEED_FILE,
        INSTANCE_ID,
        HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    await vi.waitFor(
      () => {
        expect(child.exitCode, output).toBeNull();
        expect(
          heartbeats.some((beat) => beat.value.instanceId === INSTANCE_ID && beat.value.state === 'up'),
          output,
        ).toBe(true);
      },
      { timeout: 30_000, interval: 50 },
    );
  }, 300_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await requester?.stop();
    for (const stop of stops) await stop();
    await bus?.close();
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
  });

  /** Checks the reply's JWS with the department's public key and hands back its payload. */
  async function verifiedClaims(reply: SignedReply): Promise<Record<string, unknown>> {
    const decoded = decodeCompactJws(reply.signature);
    expect(decoded.header).toEqual({ alg: 'ES256', kid: `${SYSTEM_ID}#k1`, typ: 'silobridge-reply+jws' });
    expect(await verifiesWith(decoded, publicKey)).toBe(true);
    expect(await verifiesWith(decoded, otherKey)).toBe(false);
    const claims = decoded.payload as Record<string, unknown>;
    expect(claims).toMatchObject({
      lookupId: reply.lookupId,
      certificateType: reply.certificateType,
      schemaVersion: reply.schemaVersion,
      outcome: reply.outcome,
      department: reply.connector.department,
    });
    expect(Number.isInteger(claims.iat)).toBe(true);
    expect(Math.abs((claims.iat as number) - Date.now() / 1000)).toBeLessThan(60);
    // Nothing else: digests with found only, the error code with error only.
    const extra = reply.outcome === 'found' ? ['digests'] : reply.outcome === 'error' ? ['error'] : [];
    expect(Object.keys(claims).sort()).toEqual(
      ['lookupId', 'certificateType', 'schemaVersion', 'outcome', 'department', 'iat', ...extra].sort(),
    );
    return claims;
  }

  async function verifiedHeartbeat(beat: Heartbeat): Promise<void> {
    const { signature, ...unsigned } = beat;
    const decoded = decodeCompactJws(signature);
    expect(decoded.header).toEqual({ alg: 'ES256', kid: `${SYSTEM_ID}#k1`, typ: 'silobridge-heartbeat+jws' });
    expect(await verifiesWith(decoded, publicKey)).toBe(true);
    expect(decoded.payload).toEqual(unsigned);
    expect(catalog.validateEnvelope('heartbeat', beat)).toEqual({ ok: true });
  }

  const rawReply = (lookupId: string) =>
    requester.replies.find((message) => message.headers.kafka_correlationId === lookupId);

  it('answers found with the record, each field disclosed and its digest signed', async () => {
    const subject = { residentIdNumber: SPOUSE_ID };
    const reply = (await requester.lookup(
      DEPARTMENT,
      { certificateType: 'marriage-certificate', subject },
      15_000,
    )) as unknown as SignedReply;
    expect(reply).toMatchObject({
      version: 1,
      outcome: 'found',
      certificateType: 'marriage-certificate',
      schemaVersion: 1,
      record: married.record,
      connector: { department: DEPARTMENT, instanceId: INSTANCE_ID },
    });
    expect(catalog.validateEnvelope('lookup-reply', reply)).toEqual({ ok: true });
    expect(catalog.validateRecord('marriage-certificate', 1, reply.record)).toEqual({ ok: true });
    // Same key as the request, correlation id copied, JSON content type.
    expect(rawReply(reply.lookupId)).toMatchObject({
      key: unkeyedSubjectKey('marriage-certificate', subject),
      headers: { kafka_correlationId: reply.lookupId, 'content-type': 'application/json' },
    });

    const claims = await verifiedClaims(reply);
    expect(claims.error).toBeUndefined();
    const digests = claims.digests as Record<string, string>;
    const disclosures = reply.disclosures ?? {};
    const fields = Object.keys(married.record).sort();
    expect(Object.keys(disclosures).sort()).toEqual(fields);
    expect(Object.keys(digests).sort()).toEqual(fields);
    const salts = new Set<string>();
    for (const field of fields) {
      const disclosure = disclosures[field];
      const { salt, name, value } = readDisclosure(disclosure);
      expect(name).toBe(field);
      expect(value).toEqual(married.record[field]);
      expect(disclosureDigest(disclosure as string)).toBe(digests[field]);
      salts.add(salt);
    }
    expect(salts.size).toBe(fields.length);

    // The other identifier of the subject schema finds it as well.
    const byNumber = await requester.lookup(
      DEPARTMENT,
      { certificateType: 'marriage-certificate', subject: { certificateNumber: 'J350102-2015-000123' } },
      15_000,
    );
    expect(byNumber.outcome).toBe('found');
  });

  it('signs not-found and error replies too', async () => {
    const missing = (await requester.lookup(
      DEPARTMENT,
      { certificateType: 'marriage-certificate', subject: { residentIdNumber: '11010519491231002X' } },
      15_000,
    )) as unknown as SignedReply;
    expect(missing).toMatchObject({ outcome: 'not-found', connector: { department: DEPARTMENT } });
    expect(missing.record).toBeUndefined();
    expect(missing.disclosures).toBeUndefined();
    expect(catalog.validateEnvelope('lookup-reply', missing)).toEqual({ ok: true });
    const missingClaims = await verifiedClaims(missing);
    expect(missingClaims.digests).toBeUndefined();
    expect(missingClaims.error).toBeUndefined();

    const unsupported = (await requester.lookup(
      DEPARTMENT,
      { certificateType: 'business-licence', subject: { unifiedSocialCreditCode: '91350100M000100Y43' } },
      15_000,
    )) as unknown as SignedReply;
    expect(unsupported).toMatchObject({ outcome: 'error', error: { code: 'unsupported-certificate-type' } });
    expect(catalog.validateEnvelope('lookup-reply', unsupported)).toEqual({ ok: true });
    const errorClaims = await verifiedClaims(unsupported);
    expect(errorClaims.error).toBe('unsupported-certificate-type');
    expect(errorClaims.digests).toBeUndefined();
  });

  it('dead-letters a request whose reply topic is not a lookup reply topic, keeping key, value and headers', async () => {
    const request = requester.envelope(
      { certificateType: 'marriage-certificate', subject: { residentIdNumber: SPOUSE_ID } },
      15_000,
    );
    const value = JSON.stringify(request);
    const foreignTopic = topics.lookupRequests('market-regulation');
    await requester.send(
      DEPARTMENT,
      value,
      { kafka_correlationId: request.lookupId, kafka_replyTopic: foreignTopic, 'x-trace': 't-1' },
      'foreign-key',
    );
    await vi.waitFor(
      () =>
        expect(
          deadLetters.some((m) => m.key === 'foreign-key'),
          output,
        ).toBe(true),
      {
        timeout: 15_000,
        interval: 50,
      },
    );
    const letter = deadLetters.find((message) => message.key === 'foreign-key');
    expect(letter?.value).toBe(value);
    expect(letter?.headers).toMatchObject({
      kafka_correlationId: request.lookupId,
      kafka_replyTopic: foreignTopic,
      'x-trace': 't-1',
      silobridge_dead_letter_reason: 'no usable kafka_replyTopic header',
    });
    expect(letter?.headers.silobridge_dead_letter_source).toMatch(
      new RegExp(`^${topics.lookupRequests(DEPARTMENT).replaceAll('.', '\\.')}/\\d+/\\d+$`),
    );
    expect(rawReply(request.lookupId)).toBeUndefined();
  });

  it('dead-letters what is not JSON or not a lookup request', async () => {
    const replyHeaders = { kafka_replyTopic: requester.replyTopic };
    await requester.send(DEPARTMENT, 'not json', replyHeaders, 'bad-json');
    const { deadline: _dropped, ...noDeadline } = requester.envelope({
      certificateType: 'marriage-certificate',
      subject: { residentIdNumber: SPOUSE_ID },
    });
    await requester.send(DEPARTMENT, JSON.stringify(noDeadline), replyHeaders, 'no-deadline');
    await requester.send(
      DEPARTMENT,
      JSON.stringify({ ...noDeadline, version: 2, deadline: new Date(Date.now() + 15_000).toISOString() }),
      replyHeaders,
      'version-2',
    );
    const reason = (key: string) =>
      deadLetters.find((message) => message.key === key)?.headers.silobridge_dead_letter_reason;
    await vi.waitFor(
      () => {
        expect(reason('bad-json'), output).toBe('not valid JSON');
        expect(reason('no-deadline')).toBe('not a lookup request: deadline must be a string');
        expect(reason('version-2')).toBe('not a lookup request: version must be 1');
      },
      { timeout: 15_000, interval: 50 },
    );
  });

  it('drops a request past its deadline without answering', async () => {
    // Same subject, so same key and partition: the live lookup is read after the expired one.
    const subject = { residentIdNumber: SPOUSE_ID };
    const expired = requester.envelope({ certificateType: 'marriage-certificate', subject }, -1000);
    await requester.send(
      DEPARTMENT,
      JSON.stringify(expired),
      { kafka_correlationId: expired.lookupId, kafka_replyTopic: requester.replyTopic },
      unkeyedSubjectKey('marriage-certificate', subject),
    );
    const live = await requester.lookup(
      DEPARTMENT,
      { certificateType: 'marriage-certificate', subject },
      15_000,
    );
    expect(live.outcome).toBe('found');
    expect(rawReply(expired.lookupId)).toBeUndefined();
    expect(deadLetters.some((message) => message.headers.kafka_correlationId === expired.lookupId)).toBe(
      false,
    );
  });

  it('gives up on a reply topic that does not exist within max.block.ms, and answers the next request', async () => {
    // The broker does not create topics on demand: the reply's send waits for metadata that never comes.
    const subject = { residentIdNumber: SPOUSE_ID };
    const orphan = requester.envelope({ certificateType: 'marriage-certificate', subject }, 15_000);
    await requester.send(
      DEPARTMENT,
      JSON.stringify(orphan),
      { kafka_correlationId: orphan.lookupId, kafka_replyTopic: topics.lookupReplies('gone-gateway') },
      unkeyedSubjectKey('marriage-certificate', subject),
    );
    // Same key, so same partition: answered only once the orphan was given up and committed.
    const started = Date.now();
    const next = await requester.lookup(
      DEPARTMENT,
      { certificateType: 'marriage-certificate', subject },
      15_000,
    );
    expect(next.outcome).toBe('found');
    expect(Date.now() - started).toBeLessThan(12_000);
    expect(output).toMatch(/no reply sent for \S+: /);
  }, 20_000);

  it('sends signed `up` heartbeats every intervalMs, keyed department/instance', async () => {
    await vi.waitFor(
      () =>
        expect(heartbeats.filter((beat) => beat.value.state === 'up').length, output).toBeGreaterThanOrEqual(
          3,
        ),
      { timeout: 15_000, interval: 100 },
    );
    const ups = heartbeats.filter((beat) => beat.value.state === 'up');
    for (const { key, value } of ups) {
      expect(key).toBe(`${DEPARTMENT}/${INSTANCE_ID}`);
      expect(value).toMatchObject({
        version: 1,
        department: DEPARTMENT,
        instanceId: INSTANCE_ID,
        certificateTypes: [{ certificateType: 'marriage-certificate', schemaVersion: 1 }],
        intervalMs: HEARTBEAT_INTERVAL_MS,
      });
      await verifiedHeartbeat(value);
    }
    const sent = ups.map((beat) => Date.parse(beat.value.sentAt as string));
    const gaps = sent.slice(1).map((at, index) => at - (sent[index] as number));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(HEARTBEAT_INTERVAL_MS * 0.9);
  });

  it('refuses to start, with exit status 2 and the setting named, when the configuration is wrong', async () => {
    const java = await findJava();
    const start = async (env: Record<string, string>) => {
      const started = spawn(java, ['-jar', JAR], {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let said = '';
      started.stdout?.on('data', (chunk) => (said += chunk));
      started.stderr?.on('data', (chunk) => (said += chunk));
      const code = await new Promise<number | null>((resolve) => started.once('exit', resolve));
      return { code, said };
    };
    const complete = {
      KAFKA_BROKERS: brokers,
      DEPARTMENT,
      SYSTEM_ID,
      SIGNING_KEY_FILE: path.join(keyDir, 'signing-key.jwk.json'),
      SEED_FILE,
    };
    const { DEPARTMENT: _department, ...noDepartment } = complete;
    expect(await start(noDepartment)).toEqual({
      code: 2,
      said: 'silobridge-java-connector: DEPARTMENT is not set (see README.md)\n',
    });
    const foreignSystem = await start({ ...complete, SYSTEM_ID: 'market-regulation/licence-connector' });
    expect(foreignSystem.code).toBe(2);
    expect(foreignSystem.said).toContain(
      'SYSTEM_ID must be <department>/<system> of department civil-affairs',
    );
  });

  it('answers the gateway’s lookups once its system and key are registered: an approval system gets the record', async () => {
    const env = await createTestGatewayEnvironment(prefix);
    try {
      // The department's connector system, with the public half of the key the Java connector signs with.
      const found = await lookupThroughGateway(env, `${prefix}-gw`, {
        system: {
          id: SYSTEM_ID,
          name: 'Marriage register connector (Java)',
          publicJwk: { ...publicKey.export({ format: 'jwk' }), kid: 'k1' },
        },
        lookup: {
          certificateType: 'marriage-certificate',
          subject: { residentIdNumber: '350102198702022349' },
          purpose: PURPOSE,
        },
        context: () => output,
      });
      expect(found.body).toMatchObject({
        provider: DEPARTMENT,
        departmentSignature: { keyId: `${SYSTEM_ID}#k1` },
      });
    } finally {
      await env.cleanup();
    }
  });

  it('says down, signed, when it gets SIGTERM, and exits', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    // 143 = 128 + SIGTERM: how every JVM ends on SIGTERM, shutdown hooks run or not.
    expect(await exited, output).toBe(143);
    await vi.waitFor(() => expect(heartbeats.at(-1)?.value.state, output).toBe('down'), {
      timeout: 10_000,
      interval: 50,
    });
    const down = heartbeats.at(-1);
    expect(down?.key).toBe(`${DEPARTMENT}/${INSTANCE_ID}`);
    await verifiedHeartbeat(down?.value as Heartbeat);
    expect(output).toContain(`${DEPARTMENT}/${INSTANCE_ID} stopped`);
  });
});
