/**
 * The checkpoints' copies as two real gateway instances hand them out (PostgreSQL, Kafka, the sample
 * connectors): every lookup answer, single or batch and through either instance, carries the newest
 * checkpoint, including one the other instance signed; the public feed lists them without a token;
 * a department's dump of the topic and the shared checkpoint folder hold them; and
 * `silobridge audit verify --against` all of these finds the log intact.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { CHECKPOINT_TYP, claimedCheckpoint } from '../../gateway/audit/audit-checkpoints.js';
import { readHeldCheckpoints } from '../../gateway/audit/checkpoint-sources.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import { runAuditCli } from '../support/audit-cli.js';
import { lookupBody } from '../support/lookup-fixtures.js';
import {
  createTestGatewayEnvironment,
  type TestClient,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const PREFIX = `ckpt-gw-${Date.now().toString(36)}`;

let env: TestGatewayEnvironment;
let first: RunningGateway;
let second: RunningGateway;
let apiFirst: TestClient;
let apiSecond: TestClient;
let folder: string;
let dir: string;

async function cli(...args: string[]) {
  return runAuditCli(
    {
      loadConfig: () => ({ databaseUrl: env.database.url, dataDir: env.dataDir }),
      loadKafkaConfig: () => ({
        kafkaBrokers: inject('kafkaBrokers').split(','),
        kafkaSecurity: { ssl: false },
        topicPrefix: PREFIX,
      }),
    },
    ...args,
  );
}

beforeAll(async () => {
  env = await createTestGatewayEnvironment(PREFIX);
  dir = await mkdtemp(path.join(tmpdir(), 'silobridge-checkpoint-gateway-'));
  folder = path.join(dir, 'checkpoints');
  const settings = { SILOBRIDGE_AUDIT_CHECKPOINT_EVERY: '3', SILOBRIDGE_AUDIT_CHECKPOINT_DIR: folder };
  first = await env.start(`${PREFIX}-a`, { ...settings, SILOBRIDGE_SAMPLE_CONNECTORS: 'true' });
  second = await env.start(`${PREFIX}-b`, settings);
  apiFirst = await env.client(first);
  apiSecond = await env.client(second);
  await vi.waitFor(
    async () => {
      const response = await apiFirst.post('/v1/lookups', lookupBody('resident-id-card'));
      expect(response.status, JSON.stringify(response.body)).toBe(200);
    },
    { timeout: 30_000, interval: 200 },
  );
});
afterAll(async () => {
  await env?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('checkpoints handed out by running gateways', () => {
  it('puts the newest checkpoint in every answer, also one the other instance signed', async () => {
    for (let index = 0; index < 3; index += 1) {
      expect((await apiFirst.post('/v1/lookups', lookupBody('resident-id-card', index))).status).toBe(200);
    }
    const fromFirst = await apiFirst.post('/v1/lookups', lookupBody('resident-id-card'));
    const signed = claimedCheckpoint(fromFirst.body.checkpoint);
    expect(signed).toMatchObject({ typ: CHECKPOINT_TYP, log: 'silobridge-audit' });

    // The second instance signed none of these: it learns of them with its own batches.
    const batch = await apiSecond.post('/v1/lookups:batch', {
      lookups: [lookupBody('resident-id-card', 1), lookupBody('resident-id-card', 2)],
    });
    expect(batch.status).toBe(200);
    for (const item of batch.body.results) {
      expect(item.status).toBe(200);
      expect(claimedCheckpoint(item.lookup.checkpoint).sequence).toBeGreaterThanOrEqual(signed.sequence ?? 0);
    }
    await writeFile(path.join(dir, 'response.json'), JSON.stringify(fromFirst.body));
  });

  it('publishes them to the feed, the topic and the folder, and they verify against the log', async () => {
    const feed = await fetch(`${second.url}/.well-known/audit-checkpoints`);
    expect(feed.status).toBe(200);
    const lines = (await feed.text()).trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(1);
    await writeFile(path.join(dir, 'feed.ndjson'), lines.join('\n'));
    await writeFile(
      path.join(dir, 'jwks.json'),
      await (await fetch(`${first.url}/.well-known/jwks.json`)).text(),
    );

    const newest = JSON.parse(lines.at(-1) ?? '') as { sequence: number };
    const topic = path.join(dir, 'topic.ndjson');
    await vi.waitFor(
      async () => {
        await rm(topic, { force: true });
        expect((await cli('checkpoints', '--from-kafka', '--out', topic)).code).toBe(0);
        expect(await readFile(topic, 'utf8')).toContain(`"sequence":${newest.sequence},`);
      },
      { timeout: 20_000, interval: 500 },
    );
    await vi.waitFor(
      async () =>
        expect(
          (await readHeldCheckpoints(folder)).map((held) => claimedCheckpoint(held.jws).sequence),
        ).toContain(newest.sequence),
      { timeout: 10_000, interval: 200 },
    );

    const run = await cli(
      'verify',
      '--against',
      path.join(dir, 'response.json'),
      path.join(dir, 'feed.ndjson'),
      topic,
      folder,
      `${second.url}/.well-known/audit-checkpoints`,
      '--jwks',
      path.join(dir, 'jwks.json'),
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('audit log intact');
    expect(run.stdout).toMatch(/from 5 source\(s\), \d+ validly signed, \d+ agree with the log/);
  });
});
