/**
 * An insider with full database rights (a superuser: the append-only triggers can be switched off)
 * against the copies of the signed checkpoints held outside the database: the checkpoint an approval
 * system's saved lookup response carries, the public feed fetched earlier, the Kafka topic dumped by
 * a department, and the checkpoint folder. Real PostgreSQL and Kafka. The database alone finds
 * nothing wrong in each case; `silobridge audit verify --against <copies>` finds the truncation and
 * the rewrite, reports an added event as unwitnessed (not as forged, and not as fine either) until the
 * next checkpoint, and refuses a checkpoint signed with a key the holder never saw. What no copy can
 * show (a rewrite of events after every copy anyone holds) is shown not to be detected.
 */
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import canonicalize from 'canonicalize';
import type { RequestHandler } from 'express';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { type Audit, startAudit } from '../../gateway/audit/audit.js';
import { type ChainRow, chainHash } from '../../gateway/audit/audit-chain.js';
import { CHECKPOINT_LOG, CHECKPOINT_TYP } from '../../gateway/audit/audit-checkpoints.js';
import { readHeldCheckpoints } from '../../gateway/audit/checkpoint-sources.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { createApp } from '../../gateway/http/app.js';
import { createLookupRouter } from '../../gateway/lookups/lookup-routes.js';
import type { LookupResult, LookupService } from '../../gateway/lookups/lookup-service.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import { signCompact } from '../../gateway/signing/jws.js';
import { type Signing, startSigning } from '../../gateway/signing/signing.js';
import type { Database } from '../../gateway/storage/database.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { runAuditCli } from '../support/audit-cli.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const SECRET = 'audit-checkpoint-insider-signing-secret-0123';
const HMAC_KEY = 'audit-checkpoint-insider-hmac-key-0123456789abcdef';
/** Lookups made before the insider acts: checkpoints every 5 events, so at 5, 10, 15 and 20. */
const LOOKUPS = 21;

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('an insider with full database rights, against checkpoints held outside the database', () => {
  let testDb: TestDatabase;
  let database: Database;
  let signing: Signing;
  let audit: Audit;
  let bus: Bus;
  let server: Server;
  let base: string;
  let dir: string;
  let prefix: string;

  /** The CLI as a department or the supervisor runs it; resolves with exit code and output. */
  async function cli(...args: string[]) {
    return runAuditCli(
      {
        loadConfig: () => ({ databaseUrl: testDb.url, dataDir: dir, signingKeySecret: SECRET }),
        loadKafkaConfig: () => ({
          kafkaBrokers: inject('kafkaBrokers').split(','),
          kafkaSecurity: { ssl: false },
          topicPrefix: prefix,
        }),
      },
      ...args,
    );
  }

  /** As a superuser, the append-only triggers off for one transaction (test/integration/audit-tamper.test.ts). */
  async function asInsider(...statements: string[]) {
    const client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
      await client.query('ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only');
      for (const statement of statements) await client.query(statement);
      await client.query('ALTER TABLE audit_events ENABLE ALWAYS TRIGGER audit_events_append_only');
      await client.query('ALTER TABLE audit_checkpoints ENABLE ALWAYS TRIGGER audit_checkpoints_append_only');
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  }

  async function chain(): Promise<ChainRow[]> {
    const { rows } = await database.query<{
      sequence: string;
      prev_hash: string;
      hash: string;
      event: ChainRow['event'];
    }>('SELECT sequence, prev_hash, hash, event FROM audit_events ORDER BY sequence');
    return rows.map((row) => ({
      sequence: Number(row.sequence),
      prevHash: row.prev_hash,
      hash: row.hash,
      event: row.event,
    }));
  }

  /** Rewrites the chain from `edit`'s events on, every later hash recomputed: self-consistent again. */
  async function rewriteFrom(sequence: number, edit: (event: ChainRow['event']) => ChainRow['event']) {
    const rows = await chain();
    let prev = rows.find((row) => row.sequence === sequence)?.prevHash ?? '';
    const statements: string[] = [];
    for (const row of rows.filter((r) => r.sequence >= sequence)) {
      const event = row.sequence === sequence ? edit(row.event) : row.event;
      const hash = chainHash(prev, event);
      statements.push(
        `UPDATE audit_events SET event = '${JSON.stringify(event)}', prev_hash = '${prev}', hash = '${hash}' WHERE sequence = ${row.sequence}`,
      );
      prev = hash;
    }
    return statements;
  }

  /** An approval system's lookup, whose answer it saves as it got it. */
  async function lookup(n: number): Promise<Record<string, unknown>> {
    const response = await fetch(`${base}/v1/lookups`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ n }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  }

  const saved = (name: string, content: string) =>
    writeFile(path.join(dir, name), content).then(() => path.join(dir, name));

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'silobridge-checkpoint-insider-'));
    prefix = `insider-${randomUUID().slice(0, 8)}`;
    testDb = await createTestDatabase();
    database = createPostgresDatabase({ connectionString: testDb.url });
    bus = createKafkaBus({
      brokers: inject('kafkaBrokers').split(','),
      clientId: `${prefix}-gateway`,
      logger: createLogger('silent'),
    });
    signing = await startSigning({ database, secret: SECRET });
    audit = await startAudit({
      config: {
        auditCheckpointEvery: 5,
        auditCheckpointIntervalMs: 86_400_000,
        auditCheckpointDir: path.join(dir, 'checkpoint-folder'),
        topicPrefix: prefix,
      },
      database,
      hmacKey: HMAC_KEY,
      signer: signing.keys,
      bus,
      logger: createLogger('silent'),
    });
    // The lookup pipeline reduced to what matters here: every lookup is audited before it answers.
    const service = {
      async lookup(body: { n: number }) {
        const record = { name: `person ${body.n}` };
        const result = {
          lookupId: `lookup-${body.n}`,
          certificateType: 'resident-id-card',
          schemaVersion: 1,
          provider: 'public-security',
          record,
          recordDigest: createHash('sha256')
            .update(canonicalize(record) ?? '')
            .digest('hex'),
          retrievedAt: new Date().toISOString(),
        };
        await audit.log.record({
          kind: 'lookup',
          lookupId: result.lookupId,
          at: result.retrievedAt,
          requester: { department: 'civil-affairs', system: 'civil-affairs/registry' },
          certificateType: result.certificateType,
          outcome: 'granted',
          status: 200,
          latencyMs: 1,
          recordDigest: result.recordDigest,
        });
        return result as unknown as LookupResult;
      },
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
        signing.jwksRouter,
        audit.publicRouter,
        createLookupRouter({
          service,
          authenticate,
          // As gateway/gateway.ts wires it.
          sign: async (result, requester) => ({
            signature: await signing.responses.signLookupResponse({ ...result, requester }),
            checkpoint: audit.latestCheckpoint(),
          }),
        }),
      ],
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (let n = 1; n < LOOKUPS; n += 1) await lookup(n);
  });

  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await audit?.stop();
    signing?.close();
    await bus?.close();
    await database?.close();
    await testDb?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  /** The copies held outside the database once event 21 is written: each pins the log up to event 20. */
  async function takeCopies() {
    const response = await lookup(LOOKUPS);
    expect(response.checkpoint).toMatch(/^eyJ/);
    const jwks = await saved('jwks.json', await (await fetch(`${base}/.well-known/jwks.json`)).text());
    const feed = await saved(
      'feed.ndjson',
      await (await fetch(`${base}/.well-known/audit-checkpoints`)).text(),
    );
    return { response: await saved('response.json', JSON.stringify(response, null, 2)), feed, jwks };
  }

  it('(a) deletes the tail together with the stored checkpoints: every copy shows the truncation', async () => {
    const copies = await takeCopies();
    // A department's copy of the topic, and the checkpoint folder as it was mounted elsewhere.
    const topic = path.join(dir, 'topic.ndjson');
    await waitFor(async () => {
      await rm(topic, { force: true });
      const dump = await cli('checkpoints', '--from-kafka', '--out', topic);
      expect(dump.code).toBe(0);
      return (await readFile(topic, 'utf8')).includes('"sequence":20,') ? true : undefined;
    }, 'checkpoint 20 on the topic');
    const folder = path.join(dir, 'checkpoint-folder');
    await waitFor(
      async () => ((await readHeldCheckpoints(folder).catch(() => [])).length === 4 ? true : undefined),
      'the checkpoint files',
    );

    await asInsider(
      'DELETE FROM audit_events WHERE sequence > 12',
      'DELETE FROM audit_checkpoints WHERE sequence > 10',
    );

    const alone = await cli('verify');
    expect(alone.code).toBe(0); // the database alone: a consistent log of 12 events, checkpoints at 5 and 10
    for (const copy of [copies.response, copies.feed, topic, folder]) {
      const run = await cli('verify', '--against', copy, '--jwks', copies.jwks);
      expect(run.code, copy).toBe(1);
      expect(run.stdout).toContain('AUDIT LOG TAMPERED');
      expect(run.stdout).toMatch(
        /\[beyond-head\] .*checkpoint #20 .*is beyond the log's head #12: the log was truncated/,
      );
    }
    const json = JSON.parse((await cli('verify', '--against', copies.response, '--json')).stdout);
    expect(json.firstProblem).toMatchObject({ kind: 'removed', sequence: 13, lastSequence: 20 });
    expect(json.witness.findings).toEqual([
      expect.objectContaining({ source: copies.response, sequence: 20, status: 'beyond-head' }),
    ]);
  });

  it('(a) ...and when the gateway then writes on, the held checkpoint no longer matches', async () => {
    const copies = await takeCopies();
    await asInsider(
      'DELETE FROM audit_events WHERE sequence > 12',
      'DELETE FROM audit_checkpoints WHERE sequence > 10',
    );
    for (let n = 100; n < 110; n += 1) await lookup(n); // events 13 to 22 again, other ones
    expect((await cli('verify')).code).toBe(0);
    const run = await cli('verify', '--against', copies.response, '--jwks', copies.jwks);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/\[differs\] .*checkpoint #20 .*does not match the log's event #20/);
  });

  it('(b) appends a forged event after the last checkpoint: unwitnessed, not intact-and-proven', async () => {
    const copies = await takeCopies();
    // Appending needs no trigger switched off: INSERT is what the log allows.
    const head = (await chain()).at(-1) as ChainRow;
    const forged = { ...head.event, sequence: head.sequence + 1, lookupId: 'never-happened' };
    await database.query(
      'INSERT INTO audit_events (sequence, prev_hash, hash, event) VALUES ($1, $2, $3, $4::jsonb)',
      [forged.sequence, head.hash, chainHash(head.hash, forged), JSON.stringify(forged)],
    );
    const run = await cli('verify', '--against', copies.feed, '--jwks', copies.jwks);
    expect(run.code).toBe(0); // nothing proves it forged...
    expect(run.stdout).toContain('events #1 to #20: pinned by a checkpoint held outside the database');
    expect(run.stdout).toContain('events #21 to #22: UNWITNESSED'); // ...and nothing proves it real

    // A checkpoint over the forged head cannot be made without the gateway's key: one signed with a
    // key of the insider's own, even added to the database's keys, fails against the holder's JWKS.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = 'insiders-key';
    const at = new Date().toISOString();
    const jws = await signCompact(
      { kid, key: privateKey },
      { log: CHECKPOINT_LOG, sequence: forged.sequence, hash: chainHash(head.hash, forged), at },
      CHECKPOINT_TYP,
    );
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
    await database.query(
      "INSERT INTO signing_keys (kid, alg, public_jwk, sealed_private_jwk, retired_at) VALUES ($1, 'ES256', $2::jsonb, 'destroyed', now())",
      [kid, JSON.stringify(jwk)],
    );
    await database.query(
      'INSERT INTO audit_checkpoints (sequence, hash, at, kid, jws) VALUES ($1, $2, $3, $4, $5)',
      [forged.sequence, chainHash(head.hash, forged), at, kid, jws],
    );
    const against = await cli('verify', '--against', copies.feed, '--jwks', copies.jwks);
    expect(against.code).toBe(1);
    expect(against.stdout).toContain(
      `checkpoint at event ${forged.sequence} is not validly signed: no published key has kid ${kid}`,
    );
    // Trusting the keys in the database instead is what the warning is about.
    const trusting = await cli('verify', '--against', copies.feed);
    expect(trusting.code).toBe(0);
    expect(trusting.stderr).toContain('give --jwks');
  });

  it('(c) rewrites an event before a held checkpoint, hashes and checkpoints too: detected', async () => {
    const copies = await takeCopies();
    const statements = await rewriteFrom(7, (event) => ({
      ...event,
      requester: { department: 'someone-else' },
    }));
    await asInsider('DELETE FROM audit_checkpoints WHERE sequence >= 5', ...statements);
    expect((await cli('verify')).code).toBe(0);
    const run = await cli('verify', '--against', copies.response, '--jwks', copies.jwks);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('events 1 to 20 were rewritten');
    expect(run.stdout).toMatch(
      /\[differs\] .*response\.json: checkpoint #20 .*the history up to it was rewritten/,
    );
  });

  it('the limit: a rewrite after every copy anyone holds goes unnoticed, and the next checkpoint covers it', async () => {
    const copies = await takeCopies(); // the newest copy pins event 20; event 21 is covered by nothing
    await asInsider(...(await rewriteFrom(21, (event) => ({ ...event, lookupId: 'rewritten' }))));
    const before = await cli('verify', '--against', copies.response, copies.feed, '--jwks', copies.jwks);
    expect(before.code).toBe(0);
    expect(before.stdout).toContain('event #21: UNWITNESSED');
    // The gateway signs whatever head it finds: from now on the rewritten event is "witnessed".
    for (let n = 200; n < 205; n += 1) await lookup(n);
    const later = await saved('later.json', JSON.stringify(await lookup(205)));
    const after = await cli('verify', '--against', later, '--jwks', copies.jwks);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('events #1 to #25: pinned by a checkpoint held outside the database');
    expect(after.stdout).toContain('events #26 to #27: UNWITNESSED'); // 26, and the lookup that brought checkpoint 25
  });

  it('exits 2 when a copy cannot be read or holds no checkpoint', async () => {
    const empty = await saved('empty.json', '{"lookupId":"x"}');
    const run = await cli('verify', '--against', empty);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('holds no audit checkpoint');
    expect((await cli('verify', '--against', 'http://127.0.0.1:1/feed')).code).toBe(2);
  });
});
