/**
 * The protocol is implementable in a shell script: connectors/examples/kcat-connector.sh (kcat, jq and
 * openssl, nothing from SiloBridge) runs as its own process against the real broker, answers lookups
 * and signs its replies and heartbeats so that the gateway's own checks accept them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLookupRequester, type LookupRequester } from '../../connectors/testing/lookup-requester.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { loadSchemaCatalog, type SchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { projectRoot, sampleSeedDir, schemasDir } from '../../gateway/foundation/paths.js';
import { createProviderSignatures } from '../../gateway/lookups/provider-signatures.js';
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import { DEAD_LETTER_REASON_HEADER, ensureSharedTopics, topicNames } from '../../gateway/protocol/topics.js';
import { collectHeartbeatsAndDeadLetters } from '../support/connector-watch.js';
import { credentialsOf, departmentIdentity } from '../support/department-keys.js';

const SCRIPT = path.join('connectors', 'examples', 'kcat-connector.sh');
const SEED_FILE = path.join(sampleSeedDir, 'marriage-certificate.json');
/** The tools the script runs; basenc is in coreutils 8.31 and later. */
const TOOLS = ['kcat', 'jq', 'openssl', 'basenc'];
const LOOKUP_TIMEOUT_MS = 15_000;

const identity = departmentIdentity('civil-affairs');
const signatures = createProviderSignatures(credentialsOf(identity));

type Heartbeat = Record<string, unknown> & { instanceId: string; state: string };

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir || '.', tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Whether any process of the group `pgid` (the script and what it started) is still running. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a connector written as a shell script with kcat, jq and openssl (docs/protocol.md)', () => {
  const brokers = inject('kafkaBrokers');
  const prefix = `ns${randomBytes(4).toString('hex')}`;
  const topics = topicNames(prefix);
  const seed = JSON.parse(readFileSync(SEED_FILE, 'utf8')) as Array<{ record: Record<string, unknown> }>;
  let keyDir: string | undefined;
  let bus: Bus | undefined;
  let requester: LookupRequester | undefined;
  let child: ChildProcess | undefined;
  let instanceId = '';
  let output = '';
  let catalog: SchemaCatalog;
  const heartbeats: Heartbeat[] = [];
  const deadLetters: IncomingMessage[] = [];
  const stops: Array<() => Promise<void>> = [];
  const ours = () => heartbeats.filter((beat) => beat.instanceId === instanceId);

  const lookup = (subject: Record<string, string>, certificateType = 'marriage-certificate') => {
    if (!requester) throw new Error('the requester did not start');
    return requester.lookup('civil-affairs', { certificateType, subject }, LOOKUP_TIMEOUT_MS);
  };

  beforeAll(async () => {
    const missing = TOOLS.filter((tool) => !onPath(tool));
    if (missing.length > 0) {
      throw new Error(
        `${SCRIPT} needs ${missing.join(', ')}, not found on PATH: apt-get install kcat jq openssl ` +
          '(basenc comes with coreutils 8.31 or later; see README).',
      );
    }
    catalog = await loadSchemaCatalog(schemasDir);
    bus = createKafkaBus({
      brokers: brokers.split(','),
      clientId: `${prefix}-test`,
      logger: pino({ level: 'silent' }),
    });
    // Created by the gateway in a deployment, with the gateway's settings; the script expects them.
    await ensureSharedTopics(bus, topics, ['civil-affairs']);
    stops.push(...(await collectHeartbeatsAndDeadLetters(bus, prefix, { heartbeats, deadLetters })));
    requester = createLookupRequester({ bus, topicPrefix: prefix });
    await requester.start();

    keyDir = await mkdtemp(path.join(tmpdir(), 'silobridge-kcat-'));
    const keyFile = path.join(keyDir, 'civil-affairs.connector.jwk');
    await writeFile(keyFile, JSON.stringify(identity.privateJwk), { mode: 0o600 });
    const started = Date.now();
    child = spawn('bash', [SCRIPT], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH,
        KAFKA_BROKERS: brokers,
        SILOBRIDGE_TOPIC_PREFIX: prefix,
        SIGNING_KEY_FILE: keyFile,
        SYSTEM_ID: identity.systemId,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that afterAll can end whatever the script left running.
      detached: true,
    });
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    // The script names its instance kcat-<hostname>-<its pid>; bash is that process.
    instanceId = `kcat-${hostname().toLowerCase()}-${child.pid}`;
    await vi.waitFor(
      () => {
        expect(child?.exitCode, `the script exited early:\n${output}`).toBeNull();
        expect(
          ours().some((beat) => beat.state === 'up'),
          `no heartbeat from ${instanceId} yet:\n${output}`,
        ).toBe(true);
      },
      { timeout: 30_000, interval: 100 },
    );
    process.stderr.write(`[kcat-connector] first heartbeat ${Date.now() - started} ms after spawn\n`);
  });

  afterAll(async () => {
    // Ends the script's process group (kcat, the heartbeat loop) if a test left it running.
    if (child?.pid !== undefined && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    await requester?.stop();
    for (const stop of stops) await stop();
    await bus?.close();
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
  });

  it('heartbeats up, signed with the department key, in the heartbeat envelope', async () => {
    const beat = ours().find((candidate) => candidate.state === 'up') as Heartbeat;
    expect(beat).toMatchObject({
      version: 1,
      department: 'civil-affairs',
      state: 'up',
      certificateTypes: [{ certificateType: 'marriage-certificate', schemaVersion: 1 }],
    });
    expect(catalog.validateEnvelope('heartbeat', beat)).toEqual({ ok: true });
    await expect(signatures.verifyHeartbeat(beat)).resolves.toBeUndefined();
  });

  it('answers found with the record, signed so that the gateway accepts it', async () => {
    const found = await lookup({ residentIdNumber: '350102198702022349' });
    expect(found, output).toMatchObject({
      version: 1,
      outcome: 'found',
      certificateType: 'marriage-certificate',
      schemaVersion: 1,
      record: { certificateNumber: 'J350102-2015-000123' },
      connector: { department: 'civil-affairs', instanceId },
    });
    expect(found.record).toEqual(seed[0]?.record);
    const verified = await signatures.verifyReply(found as never, 'civil-affairs');
    expect(verified.keyId).toBe(`civil-affairs/connector#${identity.kid}`);
    expect(Object.keys(verified.disclosures).sort()).toEqual(Object.keys(found.record ?? {}).sort());
    expect(catalog.validateEnvelope('lookup-reply', found)).toEqual({ ok: true });
    expect(catalog.validateRecord('marriage-certificate', 1, found.record)).toEqual({ ok: true });
  });

  it('answers not-found and unsupported types, signed too, with the lookup id as correlation id', async () => {
    const missing = await lookup({ residentIdNumber: '11010519491231002X' });
    expect(missing).toMatchObject({ outcome: 'not-found', connector: { instanceId } });
    await expect(signatures.verifyReply(missing as never, 'civil-affairs')).resolves.toMatchObject({
      keyId: `civil-affairs/connector#${identity.kid}`,
    });
    expect(catalog.validateEnvelope('lookup-reply', missing)).toEqual({ ok: true });

    const unsupported = await lookup({ registrationNumber: '91350100M000100Y43' }, 'business-licence');
    expect(unsupported).toMatchObject({ outcome: 'error', error: { code: 'unsupported-certificate-type' } });
    await expect(signatures.verifyReply(unsupported as never, 'civil-affairs')).resolves.toBeDefined();
    expect(catalog.validateEnvelope('lookup-reply', unsupported)).toEqual({ ok: true });

    const correlationIds = requester?.replies.map((message) => message.headers.kafka_correlationId);
    expect(correlationIds).toContain(missing.lookupId);
    expect(correlationIds).toContain(unsupported.lookupId);
  });

  it('dead-letters a request that is not JSON, saying why in a header', async () => {
    await requester?.send('civil-affairs', 'not json', { kafka_replyTopic: requester.replyTopic }, 'k-1');
    await expect.poll(() => deadLetters.length, { timeout: LOOKUP_TIMEOUT_MS }).toBe(1);
    const [letter] = deadLetters;
    expect(letter?.value).toBe('not json');
    expect(letter?.key).toBe('k-1');
    expect(letter?.headers[DEAD_LETTER_REASON_HEADER]).toMatch(/not JSON/);
  });

  it('says down, signed, and exits 0 on SIGTERM; down is its last heartbeat', async () => {
    const running = child as ChildProcess;
    const exited = new Promise<number | null>((resolve) => running.once('exit', (code) => resolve(code)));
    running.kill('SIGTERM');
    expect(await exited, output).toBe(0);
    // Whatever the script started has finished (every heartbeat it sent is on the topic) ...
    await vi.waitFor(() => expect(groupAlive(running.pid as number), 'processes left running').toBe(false), {
      timeout: LOOKUP_TIMEOUT_MS,
      interval: 100,
    });
    await expect
      .poll(() => ours().some((beat) => beat.state === 'down'), { timeout: LOOKUP_TIMEOUT_MS })
      .toBe(true);
    // ... and the last one is down: the gateway (and the compacted topic) keep only the latest.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const down = ours().at(-1) as Heartbeat;
    expect(down, JSON.stringify(ours().map((beat) => beat.state))).toMatchObject({
      instanceId,
      state: 'down',
    });
    expect(catalog.validateEnvelope('heartbeat', down)).toEqual({ ok: true });
    await expect(signatures.verifyHeartbeat(down)).resolves.toBeUndefined();
  });
});
