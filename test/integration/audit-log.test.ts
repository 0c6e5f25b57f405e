import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LookupOutcome } from '../../gateway/access/lookup-terms.js';
import type { AuditEvent } from '../../gateway/audit/audit-events.js';
import { type AuditLog, createAuditLog } from '../../gateway/audit/audit-log.js';
import { verifyAuditLog } from '../../gateway/audit/audit-verify.js';
import { createSubjectHasher } from '../../gateway/audit/subject-hash.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { openSigningKeyRing, type SigningKeyRing } from '../../gateway/signing/signing-keys.js';
import type { Database } from '../../gateway/storage/database.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const HMAC_KEY = 'audit-log-test-hmac-key-0123456789abcdef';
const SECRET = 'audit-log-test-signing-secret-0123456789';
const ID_NUMBER = '11010519491231002X';
const logger = createLogger('silent');

function lookupEvent(outcome: LookupOutcome, status: number, index = 0): AuditEvent {
  return {
    kind: 'lookup',
    lookupId: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    at: new Date().toISOString(),
    requester: { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' },
    purpose: { matter: 'CA-0201', caseRef: `2026-${index}`, officer: 'officer-042' },
    certificateType: 'resident-id-card',
    subject: { residentIdNumber: ID_NUMBER },
    provider: 'public-security',
    outcome,
    status,
    latencyMs: 3.25,
    ...(outcome === 'granted'
      ? { recordDigest: 'ab'.repeat(32) }
      : { problemType: `https://silobridge.dev/problems/${outcome}` }),
  };
}

describe('the audit log on PostgreSQL', () => {
  let testDb: TestDatabase;
  let database: Database;
  let keys: SigningKeyRing;
  const logs: AuditLog[] = [];
  const openLog = async (options: Partial<Parameters<typeof createAuditLog>[0]> = {}) => {
    const log = await createAuditLog({ database, hmacKey: HMAC_KEY, logger, signer: keys, ...options });
    logs.push(log);
    return log;
  };

  beforeAll(async () => {
    testDb = await createTestDatabase();
    database = createPostgresDatabase({ connectionString: testDb.url });
    keys = await openSigningKeyRing({ database, secret: SECRET });
  });
  afterEach(async () => {
    for (const log of logs.splice(0)) await log.close();
  });
  afterAll(async () => {
    keys?.close();
    await database?.close();
    await testDb?.drop();
  });

  it('records every lookup outcome and every kind of change as one event each, in one valid chain', async () => {
    const log = await openLog();
    const before = (await verifyAuditLog(database)).events;
    const outcomes: Array<[LookupOutcome, number]> = [
      ['granted', 200],
      ['denied', 403],
      ['not-found', 404],
      ['failed', 502],
      ['timed-out', 504],
      ['invalid', 400],
    ];
    const events: AuditEvent[] = [
      ...outcomes.map(([outcome, status], index) => lookupEvent(outcome, status, index)),
      {
        kind: 'access-refused',
        at: new Date().toISOString(),
        status: 401,
        problemType: 'https://silobridge.dev/problems/unauthenticated',
        reason: 'expired-token',
        method: 'POST',
        path: '/v1/lookups',
      },
      {
        kind: 'registry-change',
        at: new Date().toISOString(),
        actor: 'admin/console',
        action: 'system-added',
        target: 'x/y',
      },
      {
        kind: 'policy-change',
        at: new Date().toISOString(),
        actor: 'system',
        action: 'reloaded',
        target: 'policies',
      },
    ];
    await Promise.all(events.map((event) => log.record(event)));

    const { rows } = await database.query<{ kind: string; outcome: string | null; status: number }>(
      "SELECT kind, outcome, (event->>'status')::int AS status FROM audit_events WHERE sequence > $1 ORDER BY sequence",
      [before],
    );
    expect(rows.map((row) => row.kind).sort()).toEqual(
      [
        'lookup',
        'lookup',
        'lookup',
        'lookup',
        'lookup',
        'lookup',
        'access-refused',
        'registry-change',
        'policy-change',
      ].sort(),
    );
    expect(rows.filter((row) => row.kind === 'lookup').map((row) => [row.outcome, row.status])).toEqual(
      expect.arrayContaining(outcomes),
    );
    expect((await verifyAuditLog(database)).ok).toBe(true);
  });

  it('stores the fields a data officer searches by, and the subject only as a keyed hash', async () => {
    const log = await openLog();
    await log.record(lookupEvent('granted', 200, 99));
    const { rows } = await database.query<Record<string, unknown>>(
      `SELECT lookup_id, requester_department, requester_system, provider, certificate_type, outcome, matter, subject_hashes
         FROM audit_events WHERE lookup_id = $1`,
      ['00000000-0000-4000-8000-000000000099'],
    );
    expect(rows[0]).toEqual({
      lookup_id: '00000000-0000-4000-8000-000000000099',
      requester_department: 'civil-affairs',
      requester_system: 'civil-affairs/marriage-registry',
      provider: 'public-security',
      certificate_type: 'resident-id-card',
      outcome: 'granted',
      matter: 'CA-0201',
      subject_hashes: createSubjectHasher(HMAC_KEY)({ residentIdNumber: ID_NUMBER }),
    });
    const clear = await database.query(
      'SELECT 1 FROM audit_events AS e WHERE e::text ILIKE $1 UNION ALL SELECT 1 FROM audit_checkpoints AS c WHERE c::text ILIKE $1',
      [`%${ID_NUMBER}%`],
    );
    expect(clear.rows).toEqual([]);
  });

  it('refuses UPDATE, DELETE and TRUNCATE, even from a superuser', async () => {
    const log = await openLog();
    await log.record(lookupEvent('granted', 200, 1));
    await expect(database.query("UPDATE audit_events SET event = '{}' WHERE sequence = 1")).rejects.toThrow(
      /append-only: UPDATE on audit_events is refused/,
    );
    await expect(database.query('DELETE FROM audit_events')).rejects.toThrow(/append-only: DELETE/);
    await expect(database.query('TRUNCATE audit_events CASCADE')).rejects.toThrow(/append-only: TRUNCATE/);
    await expect(database.query('DELETE FROM audit_checkpoints')).rejects.toThrow(/append-only/);
    await expect(database.query("UPDATE audit_settings SET value = 'x'")).rejects.toThrow(/append-only/);
  });

  it('writes concurrent events in shared transactions (group commit), one statement per batch', async () => {
    // Every statement the log sends, counted from the first record() on.
    let statements = 0;
    const counted: Database = {
      ...database,
      query: (sql, params) => {
        statements += 1;
        return database.query(sql, params);
      },
      transaction: (work) => {
        statements += 1;
        return database.transaction(work);
      },
    };
    const log = await openLog({ database: counted, batchMaxEvents: 100, checkpointEvery: 10_000 });
    statements = 0;
    await Promise.all(
      Array.from({ length: 400 }, (_, index) => log.record(lookupEvent('granted', 200, index))),
    );
    const stats = log.stats();
    expect(stats.events).toBe(400);
    expect(stats.batches).toBeGreaterThanOrEqual(4);
    expect(stats.batches).toBeLessThan(20);
    // One round trip per batch, plus one head read before the first: no BEGIN, lock, INSERT, COMMIT.
    expect(statements).toBe(stats.batches + 1);
    expect(stats).toMatchObject({ relinks: 0, lockedBatches: 0 });
    expect((await verifyAuditLog(database)).ok).toBe(true);
  });

  it('under concurrency, lets the next batch gather what arrives while it waits', async () => {
    // Each append takes 300 ms, and the wait may be as long (10 ms in production): a machine that
    // stalls the test for a few milliseconds cannot make the events miss the wait.
    const slow: Database = {
      ...database,
      query: async (sql, params) => {
        if (sql.includes('audit_append')) await new Promise((resolve) => setTimeout(resolve, 300));
        return database.query(sql, params);
      },
    };
    const log = await openLog({ database: slow, checkpointEvery: 10_000, maxCompanyWaitMs: 1000 });
    const nextTurns = async (turns: number) => {
      for (let turn = 0; turn < turns; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    };

    // After a batch of two, an event waits for company: two more recorded a few turns later join it.
    await Promise.all([
      log.record(lookupEvent('granted', 200, 3)),
      log.record(lookupEvent('granted', 200, 4)),
    ]);
    const before = log.stats().batches;
    const first = log.record(lookupEvent('granted', 200, 5));
    await nextTurns(2);
    await Promise.all([
      first,
      log.record(lookupEvent('granted', 200, 6)),
      log.record(lookupEvent('granted', 200, 7)),
    ]);
    expect(log.stats().batches - before).toBe(1);
  });

  it('never strands an event recorded just as a batch finishes', async () => {
    // A lookup records its outcome event a few microtasks after an earlier event settles; such an
    // event must start the next batch, not wait for the record timeout (a spurious 503).
    const log = await openLog({ recordTimeoutMs: 2000 });
    const started = performance.now();
    for (let hops = 0; hops < 12; hops += 1) {
      await log.record(lookupEvent('granted', 200, hops)).then(async () => {
        for (let hop = 0; hop < hops; hop += 1) await null;
        return log.record(lookupEvent('failed', 503, hops));
      });
    }
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('keeps one valid chain when two gateway instances write at once', async () => {
    // Two instances: separate connection pools, separate writers, one database.
    const other = createPostgresDatabase({ connectionString: testDb.url });
    try {
      const otherKeys = await openSigningKeyRing({ database: other, secret: SECRET });
      const a = await openLog({ checkpointEvery: 50, batchMaxEvents: 20 });
      const b = await openLog({
        database: other,
        signer: otherKeys,
        checkpointEvery: 50,
        batchMaxEvents: 20,
      });
      const before = (await verifyAuditLog(database)).events;
      const write = (log: AuditLog, prefix: string) =>
        Promise.all(
          Array.from({ length: 300 }, (_, index) =>
            log.record({
              ...lookupEvent('granted', 200, index),
              lookupId: `${prefix}-${index}`,
            } as AuditEvent),
          ),
        );
      await Promise.all([write(a, 'a'), write(b, 'b')]);
      await Promise.all([a.flush(), b.flush()]);
      otherKeys.close();

      const report = await verifyAuditLog(database);
      expect(report.ok).toBe(true);
      expect(report.events).toBe(before + 600);
      const { rows } = await database.query<{ n: string; first: string; last: string; distinct_ids: string }>(
        `SELECT count(*) AS n, min(sequence) AS first, max(sequence) AS last, count(DISTINCT lookup_id) AS distinct_ids
           FROM audit_events WHERE lookup_id ~ '^[ab]-'`,
      );
      expect(rows[0]).toEqual({
        n: '600',
        first: String(before + 1),
        last: String(before + 600),
        distinct_ids: '600',
      });
      // Both instances' batches interleave in the one chain.
      const order = await database.query<{ lookup_id: string }>(
        "SELECT lookup_id FROM audit_events WHERE lookup_id ~ '^[ab]-' ORDER BY sequence",
      );
      const switches = order.rows.filter(
        (row, i, all) => i > 0 && row.lookup_id[0] !== all[i - 1]?.lookup_id[0],
      ).length;
      expect(switches).toBeGreaterThan(1);
      expect(report.checkpoints.verified).toBeGreaterThanOrEqual(1);
      // Interleaving means a writer found the head moved by the other and relinked its batch.
      expect(a.stats().relinks + b.stats().relinks).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });

  it('relinks a batch when another instance appended first, and takes the chain lock after three misses', async () => {
    const other = await openLog();
    // Before each of this log's first three one-statement appends, the other instance appends an
    // event, so the head this log linked its batch onto is stale every time.
    let interfere = 3;
    const raced: Database = {
      ...database,
      query: async (sql, params) => {
        if (sql.includes('audit_append') && interfere > 0) {
          interfere -= 1;
          await other.record({
            ...lookupEvent('granted', 200, 900 + interfere),
            lookupId: `other-${interfere}`,
          } as AuditEvent);
        }
        return database.query(sql, params);
      },
    };
    const log = await openLog({ database: raced });
    const before = (await verifyAuditLog(database)).events;
    await Promise.all(
      Array.from({ length: 5 }, (_, index) =>
        log.record({ ...lookupEvent('granted', 200, index), lookupId: `raced-${index}` } as AuditEvent),
      ),
    );
    expect(log.stats()).toMatchObject({ events: 5, batches: 1, relinks: 3, lockedBatches: 1 });
    const report = await verifyAuditLog(database);
    expect(report.ok).toBe(true);
    expect(report.events).toBe(before + 8);
    const { rows } = await database.query<{ lookup_id: string }>(
      "SELECT lookup_id FROM audit_events WHERE lookup_id ~ '^(raced|other)-' ORDER BY sequence",
    );
    // The other instance's three events went in first; the raced batch follows them, whole.
    expect(rows.map((row) => row.lookup_id.split('-')[0])).toEqual([
      ...Array(3).fill('other'),
      ...Array(5).fill('raced'),
    ]);
  });

  it('signs a checkpoint every N events and every T milliseconds', async () => {
    const byCount = await openLog({ checkpointEvery: 10, checkpointIntervalMs: 3_600_000 });
    const head = async () => (await verifyAuditLog(database)).head?.sequence ?? 0;
    const start = await head();
    for (let index = 0; index < 10; index += 1) await byCount.record(lookupEvent('granted', 200, index));
    await expect
      .poll(async () => (await verifyAuditLog(database)).checkpoints.latest?.sequence)
      .toBe(start + 10);
    await byCount.close();

    const byTime = await openLog({ checkpointEvery: 1_000_000, checkpointIntervalMs: 200 });
    await byTime.record(lookupEvent('denied', 403, 1));
    await expect
      .poll(async () => (await verifyAuditLog(database)).checkpoints.latest?.sequence)
      .toBe(start + 11);
    const report = await verifyAuditLog(database);
    expect(report.ok).toBe(true);
  });

  it('flushes everything on close, signs the head, then refuses new events with a 503', async () => {
    const log = await openLog({
      checkpointEvery: 1_000_000,
      checkpointIntervalMs: 3_600_000,
      batchMaxWaitMs: 50,
    });
    const pending = Array.from({ length: 50 }, (_, index) => log.record(lookupEvent('granted', 200, index)));
    await log.close();
    await expect(Promise.all(pending)).resolves.toHaveLength(50);
    const report = await verifyAuditLog(database);
    expect(report.ok).toBe(true);
    expect(report.checkpoints.latest?.sequence).toBe(report.head?.sequence);
    await expect(log.record(lookupEvent('granted', 200))).rejects.toMatchObject({
      status: 503,
      problem: 'audit-unavailable',
    });
  });

  it('refuses to start with another HMAC key than the one the log was started with', async () => {
    await openLog();
    await expect(
      createAuditLog({ database, hmacKey: 'another-key-another-key-another-key!!', logger }),
    ).rejects.toThrow(/SILOBRIDGE_AUDIT_HMAC_KEY is not the key this audit log was started with/);
  });
});
