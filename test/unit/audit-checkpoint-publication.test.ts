/**
 * Checkpoints leave the database (embedded PGlite, a scripted Kafka bus): the newest one is in memory
 * for signed responses, learnt from another instance without a query per lookup; each checkpoint goes
 * to the topic once from the instance that signed it, and is retried there after a failure; every
 * instance writes every checkpoint to the folder, and a new folder is filled from the database; the
 * public feed pages through them. Lookup answers, single and batch, carry the newest checkpoint.
 */

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Audit, startAudit } from '../../gateway/audit/audit.js';
import { CHECKPOINT_TYP, claimedCheckpoint } from '../../gateway/audit/audit-checkpoints.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import { createApp } from '../../gateway/http/app.js';
import { createLookupRouter } from '../../gateway/lookups/lookup-routes.js';
import type { LookupResult, LookupService } from '../../gateway/lookups/lookup-service.js';
import type { Bus, OutgoingMessage } from '../../gateway/protocol/bus.js';
import { openSigningKeyRing, type SigningKeyRing } from '../../gateway/signing/signing-keys.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';

const HMAC_KEY = 'checkpoint-publication-unit-hmac-key-0123456789';
const SECRET = 'checkpoint-publication-unit-signing-secret-0123';

/** A Kafka bus in name only: records what is published, and fails while `down`. */
function scriptedKafka() {
  const published: Array<{ topic: string; message: OutgoingMessage }> = [];
  const ensured: string[] = [];
  const state = { down: false };
  const bus: Bus = {
    kind: 'kafka',
    async ensureTopics(topics) {
      if (state.down) throw new Error('broker down');
      ensured.push(...topics);
    },
    async publish(topic, messages) {
      if (state.down) throw new Error('broker down');
      for (const message of messages) published.push({ topic, message });
    },
    subscribe: () => Promise.reject(new Error('not used')),
    check: async () => {},
    close: async () => {},
  };
  return { bus, published, ensured, state };
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const lookupEvent = (lookupId: string) => ({
  kind: 'lookup' as const,
  lookupId,
  at: new Date().toISOString(),
  requester: { department: 'civil-affairs' },
  certificateType: 'resident-id-card',
  subject: { residentIdNumber: '11010519491231002X' },
  outcome: 'granted' as const,
  status: 200,
  latencyMs: 1,
});

async function filesIn(directory: string): Promise<string[]> {
  const days = await readdir(directory).catch(() => []);
  const files: string[] = [];
  for (const day of days.sort()) {
    for (const file of (await readdir(path.join(directory, day))).sort()) files.push(path.join(day, file));
  }
  return files;
}

describe('checkpoints published outside the database', () => {
  let database: Database;
  let keys: SigningKeyRing;
  let dir: string;
  const started: Audit[] = [];
  const start = async (options: { bus?: Bus; checkpointDir?: string } = {}) => {
    const audit = await startAudit({
      config: {
        auditCheckpointEvery: 1_000_000,
        auditCheckpointIntervalMs: 86_400_000,
        auditCheckpointDir: options.checkpointDir,
        topicPrefix: 'unit',
      },
      database,
      hmacKey: HMAC_KEY,
      signer: keys,
      bus: options.bus,
      logger: createLogger('silent'),
    });
    started.push(audit);
    return audit;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'silobridge-checkpoint-publication-'));
    database = await createPgliteDatabase(undefined);
    await migrate(database, migrationsDir);
    keys = await openSigningKeyRing({ database, secret: SECRET });
  });
  afterAll(async () => {
    for (const audit of started) await audit.stop().catch(() => {});
    keys?.close();
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the newest checkpoint in memory, also one another instance signed, and publishes each once', async () => {
    const kafkaA = scriptedKafka();
    const kafkaB = scriptedKafka();
    const folder = path.join(dir, 'shared');
    const a = await start({ bus: kafkaA.bus, checkpointDir: folder });
    const b = await start({ bus: kafkaB.bus, checkpointDir: folder });
    expect(a.latestCheckpoint()).toBeUndefined();

    await a.log.record(lookupEvent('a-1'));
    const first = await a.log.checkpoint();
    expect(a.latestCheckpoint()).toBe(first?.jws);
    expect(claimedCheckpoint(a.latestCheckpoint() ?? '')).toMatchObject({ typ: CHECKPOINT_TYP, sequence: 1 });

    // B signs the next one; A learns of it with its next batch, not with a query of its own.
    await b.log.record(lookupEvent('b-1'));
    const second = await b.log.checkpoint();
    expect(a.latestCheckpoint()).toBe(first?.jws);
    await a.log.record(lookupEvent('a-2'));
    expect(a.latestCheckpoint()).toBe(second?.jws);

    // The topic: each checkpoint from the instance that signed it, keyed by its sequence.
    await until(() => kafkaB.published.length === 1, 'B to publish');
    expect(kafkaA.published.map(({ topic, message }) => [topic, message.key])).toEqual([
      ['unit.audit-checkpoints', '1'],
    ]);
    expect(JSON.parse(kafkaB.published[0]?.message.value ?? '')).toEqual({
      type: 'checkpoint',
      sequence: 2,
      at: second?.at,
      jws: second?.jws,
    });
    expect(kafkaA.ensured).toEqual(['unit.audit-checkpoints']);

    // The folder both write to: one file per checkpoint, whoever wrote it.
    await until(async () => (await filesIn(folder)).length === 2, 'the files');
    const files = await filesIn(folder);
    expect(files.map((file) => path.basename(file))).toEqual([
      'checkpoint-0000000000000001.ndjson',
      'checkpoint-0000000000000002.ndjson',
    ]);
    expect(JSON.parse(await readFile(path.join(folder, files[1] ?? ''), 'utf8'))).toMatchObject({
      sequence: 2,
      jws: second?.jws,
    });
  });

  it('retries the topic after a failure, and fills a new folder from the database', async () => {
    const kafka = scriptedKafka();
    const folder = path.join(dir, 'new');
    const audit = await start({ bus: kafka.bus, checkpointDir: folder });
    // At start it publishes the newest checkpoint again, in case its signer died before publishing.
    await until(() => kafka.published.length === 1, 'the newest checkpoint at start');
    kafka.state.down = true;
    await audit.log.record(lookupEvent('c-1'));
    const failed = await audit.log.checkpoint();
    kafka.state.down = false;
    await audit.log.record(lookupEvent('c-2'));
    const next = await audit.log.checkpoint();
    await until(() => kafka.published.length === 3, 'the retry');
    expect(kafka.published.map(({ message }) => message.key)).toEqual([
      '2',
      String(failed?.sequence),
      String(next?.sequence),
    ]);
    await until(async () => (await filesIn(folder)).length === 4, 'the folder to be filled');
  });

  it('serves the public feed a page at a time', async () => {
    const audit = started[0] as Audit;
    const app = createApp({
      logger: createLogger('silent'),
      bodyLimitBytes: 1024,
      routers: [audit.publicRouter],
    });
    const server: Server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const all = await fetch(`${base}/.well-known/audit-checkpoints`);
      expect(all.status).toBe(200);
      expect(all.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      const lines = (await all.text())
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines.map((line) => line.sequence)).toEqual([1, 2, 4, 5]);
      const page = await fetch(`${base}/.well-known/audit-checkpoints?after=1&limit=2`);
      expect(page.headers.get('link')).toBe('</.well-known/audit-checkpoints?after=4&limit=2>; rel="next"');
      expect((await page.text()).trimEnd().split('\n')).toHaveLength(2);
      const bad = await fetch(`${base}/.well-known/audit-checkpoints?after=-1&since=x`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { errors: unknown[] }).errors).toHaveLength(2);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('puts the newest checkpoint beside the signature of every lookup answer, single and batch', async () => {
    const audit = started[0] as Audit;
    const service = {
      lookup: async (body: { n?: number }) => ({ lookupId: `l-${body.n ?? 0}` }) as unknown as LookupResult,
    } as unknown as LookupService;
    const authenticate: RequestHandler = (_req, res, next) => {
      res.locals.caller = {
        systemId: 'civil-affairs/registry',
        department: 'civil-affairs',
        roles: ['lookup'],
      };
      next();
    };
    const app = createApp({
      logger: createLogger('silent'),
      bodyLimitBytes: 4096,
      routers: [
        createLookupRouter({
          service,
          authenticate,
          sign: async () => ({ signature: 'signed', checkpoint: audit.latestCheckpoint() }),
        }),
      ],
    });
    const server: Server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const post = async (route: string, body: unknown) =>
      (await fetch(`${base}${route}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      }).then((response) => response.json())) as Record<string, unknown>;
    try {
      const single = await post('/v1/lookups', { n: 1 });
      expect(single).toEqual({ lookupId: 'l-1', signature: 'signed', checkpoint: audit.latestCheckpoint() });
      const batch = await post('/v1/lookups:batch', { lookups: [{ n: 2 }, { n: 3 }] });
      expect(
        (batch.results as Array<{ lookup: { checkpoint?: string } }>).map((r) => r.lookup.checkpoint),
      ).toEqual([audit.latestCheckpoint(), audit.latestCheckpoint()]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
