import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ChainRow, chainHash, GENESIS_HASH } from '../../gateway/audit/audit-chain.js';
import { createAuditLog } from '../../gateway/audit/audit-log.js';
import { verifyAuditLog } from '../../gateway/audit/audit-verify.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { openSigningKeyRing } from '../../gateway/signing/signing-keys.js';
import type { Database } from '../../gateway/storage/database.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { runAuditCli } from '../support/audit-cli.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const SECRET = 'audit-tamper-test-signing-secret-01234567';
const HMAC_KEY = 'audit-tamper-test-hmac-key-0123456789abcdef';
const EVENTS = 30;

/** The CLI as an operator runs it, against this test's database; resolves with exit code and output. */
async function cli(url: string, dataDir: string, ...args: string[]) {
  return runAuditCli(
    {
      loadConfig: () => ({ databaseUrl: url, dataDir, signingKeySecret: SECRET }),
    },
    ...args,
  );
}

describe('tampering with the audit log is detected and the event named', () => {
  let testDb: TestDatabase;
  let database: Database;
  let dataDir: string;

  /**
   * As a superuser with the append-only trigger disabled, in one transaction. `session_replication_role
   * = replica` is not enough (test/integration/audit-superuser.test.ts): the guards fire ALWAYS, so the
   * trigger itself must be switched off, and back on as it was (ENABLE ALWAYS, not plain ENABLE).
   */
  async function tamper(...statements: string[]) {
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

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-audit-tamper-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    testDb = await createTestDatabase();
    database = createPostgresDatabase({ connectionString: testDb.url });
    const keys = await openSigningKeyRing({ database, secret: SECRET });
    const log = await createAuditLog({
      database,
      hmacKey: HMAC_KEY,
      logger: createLogger('silent'),
      signer: keys,
      checkpointEvery: 10,
    });
    for (let index = 1; index <= EVENTS; index += 1) {
      await log.record({
        kind: 'lookup',
        lookupId: `lookup-${index}`,
        at: new Date().toISOString(),
        requester: { department: 'civil-affairs' },
        certificateType: 'resident-id-card',
        subject: { residentIdNumber: '11010519491231002X' },
        outcome: 'granted',
        status: 200,
        latencyMs: 1,
      });
    }
    await log.close();
    keys.close();
  });
  afterEach(async () => {
    await database?.close();
    await testDb?.drop();
  });

  it('finds nothing wrong with an untouched log, with checkpoints every 10 events', async () => {
    const report = await verifyAuditLog(database);
    expect(report).toMatchObject({ ok: true, events: EVENTS, checkpoints: { total: 3, verified: 3 } });
    const run = await cli(testDb.url, dataDir, 'verify');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /audit log intact: 30 event\(s\), head #30 [0-9a-f]{64}; 3 of 3 checkpoint\(s\) verified/,
    );
  });

  it('names an edited event', async () => {
    await tamper(
      `UPDATE audit_events SET event = jsonb_set(event, '{outcome}', '"denied"') WHERE sequence = 17`,
    );
    expect((await verifyAuditLog(database)).firstProblem).toMatchObject({ kind: 'altered', sequence: 17 });
    const run = await cli(testDb.url, dataDir, 'verify');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('AUDIT LOG TAMPERED: Event 17 was altered');
  });

  it('names an edited filter column too: they are generated from the hashed event', async () => {
    await expect(tamper("UPDATE audit_events SET outcome = 'denied' WHERE sequence = 3")).rejects.toThrow(
      /can only be updated to DEFAULT/,
    );
  });

  it('names a deleted event', async () => {
    await tamper('DELETE FROM audit_events WHERE sequence = 12');
    expect((await verifyAuditLog(database)).firstProblem).toMatchObject({ kind: 'removed', sequence: 12 });
    const run = await cli(testDb.url, dataDir, 'verify');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Event 12 was removed');
  });

  it('names reordered events', async () => {
    await tamper(
      'UPDATE audit_events SET sequence = 1000005 WHERE sequence = 5',
      'UPDATE audit_events SET sequence = 5 WHERE sequence = 6',
      'UPDATE audit_events SET sequence = 6 WHERE sequence = 1000005',
    );
    const report = await verifyAuditLog(database);
    expect(report.firstProblem).toMatchObject({ kind: 'reordered', sequence: 5 });
    expect(report.problems.map((problem) => problem.sequence)).toEqual([5, 6]);
    expect((await cli(testDb.url, dataDir, 'verify')).stdout).toContain(
      'Event 5 holds the event recorded as number 6',
    );
  });

  it('names an event whose hash was recomputed after editing it', async () => {
    const { rows } = await database.query<{ prev_hash: string; event: ChainRow['event'] }>(
      'SELECT prev_hash, event FROM audit_events WHERE sequence = 8',
    );
    const edited = { ...(rows[0]?.event as ChainRow['event']), outcome: 'denied' };
    const hash = chainHash(rows[0]?.prev_hash ?? '', edited);
    await tamper(
      `UPDATE audit_events SET event = '${JSON.stringify(edited)}', hash = '${hash}' WHERE sequence = 8`,
    );
    expect((await verifyAuditLog(database)).firstProblem).toMatchObject({ kind: 'altered', sequence: 8 });
  });

  it('catches a rewritten chain (every later hash recomputed) with the signed checkpoints', async () => {
    const { rows } = await database.query<{ sequence: string; event: ChainRow['event'] }>(
      'SELECT sequence, event FROM audit_events ORDER BY sequence',
    );
    let prev = GENESIS_HASH;
    const statements: string[] = [];
    for (const row of rows) {
      const event = Number(row.sequence) === 14 ? { ...row.event, outcome: 'denied' } : row.event;
      const hash = chainHash(prev, event);
      statements.push(
        `UPDATE audit_events SET event = '${JSON.stringify(event)}', prev_hash = '${prev}', hash = '${hash}' WHERE sequence = ${row.sequence}`,
      );
      prev = hash;
    }
    await tamper(...statements);
    const report = await verifyAuditLog(database);
    expect(report.firstProblem).toMatchObject({ kind: 'rewritten', sequence: 11, lastSequence: 20 });
    expect(report.checkpoints).toMatchObject({ total: 3, verified: 1 });
  });

  it('catches events removed from the end with the last checkpoint', async () => {
    await tamper('DELETE FROM audit_events WHERE sequence > 25');
    expect((await verifyAuditLog(database)).firstProblem).toMatchObject({
      kind: 'removed',
      sequence: 26,
      lastSequence: 30,
    });
  });

  it('exports the log and verifies the export offline; an edited export names the event', async () => {
    const file = path.join(dataDir, `export-${testDb.name}.ndjson`);
    const exported = await cli(testDb.url, dataDir, 'export', '--out', file);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toContain('exported 30 event(s) and 3 checkpoint(s) up to #30');

    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line).type)).toEqual([
      'silobridge-audit-export',
      'jwks',
      'checkpoint',
      'checkpoint',
      'checkpoint',
      ...Array.from({ length: EVENTS }, () => 'event'),
    ]);
    expect((await cli(testDb.url, dataDir, 'verify', '--file', file)).code).toBe(0);

    const edited = lines
      .map((line) => line.replace('"lookupId":"lookup-21"', '"lookupId":"lookup-99"'))
      .join('\n');
    await writeFile(file, edited);
    const run = await cli('postgres://nobody@127.0.0.1:1/none', dataDir, 'verify', '--file', file);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Event 21 was altered');
  });

  it('refuses checkpoints signed by a key the verifier does not trust', async () => {
    const file = path.join(dataDir, `jwks-${testDb.name}.json`);
    const stranger = await createTestDatabase();
    const strangerDb = createPostgresDatabase({ connectionString: stranger.url });
    try {
      const strangerKeys = await openSigningKeyRing({ database: strangerDb, secret: SECRET });
      await writeFile(file, JSON.stringify(await strangerKeys.jwks()));
      strangerKeys.close();
    } finally {
      await strangerDb.close();
      await stranger.drop();
    }
    const run = await cli(testDb.url, dataDir, 'verify', '--jwks', file);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/checkpoint at event 10 is not validly signed: no published key has kid/);
  });

  it('catches a rewrite that also deleted the checkpoints, with checkpoints held elsewhere', async () => {
    const held = path.join(dataDir, `held-${testDb.name}.ndjson`);
    expect((await cli(testDb.url, dataDir, 'export', '--out', held, '--no-checkpoint')).code).toBe(0);
    const { rows } = await database.query<{ sequence: string; event: ChainRow['event'] }>(
      'SELECT sequence, event FROM audit_events ORDER BY sequence',
    );
    let prev = GENESIS_HASH;
    const statements = ['DELETE FROM audit_checkpoints'];
    for (const row of rows) {
      const event =
        Number(row.sequence) === 2 ? { ...row.event, requester: { department: 'someone-else' } } : row.event;
      const hash = chainHash(prev, event);
      statements.push(
        `UPDATE audit_events SET event = '${JSON.stringify(event)}', prev_hash = '${prev}', hash = '${hash}' WHERE sequence = ${row.sequence}`,
      );
      prev = hash;
    }
    await tamper(...statements);
    expect((await cli(testDb.url, dataDir, 'verify')).code).toBe(0); // the database alone cannot tell
    const run = await cli(testDb.url, dataDir, 'verify', '--checkpoints', held);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('events 1 to 10 were rewritten');
  });

  it('exits 2 and says why when it cannot reach the database', async () => {
    const run = await cli('postgres://postgres@127.0.0.1:1/none', dataDir, 'verify');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/silobridge audit: .*ECONNREFUSED/);
  });
});
