/**
 * A database superuser cannot slip past the append-only and retire-only guards by setting
 * `session_replication_role = replica` (which silences triggers enabled only "on origin"): every guard
 * fires ALWAYS (migration 040). What a superuser can still do, disable or drop a trigger, is a catalog
 * change that shows in pg_trigger, and what it lets them change, `audit verify` names.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../gateway/audit/audit-log.js';
import { verifyAuditLog } from '../../gateway/audit/audit-verify.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import { openSigningKeyRing } from '../../gateway/signing/signing-keys.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const SECRET = 'audit-superuser-test-signing-secret-0123';
const HMAC_KEY = 'audit-superuser-test-hmac-key-0123456789abcdef';
const SAMPLE_ID = '00000000-0000-4000-8000-0000000000aa';

const APPEND_ONLY = /the audit log is append-only: (UPDATE|DELETE|TRUNCATE) on \w+ is refused/;
const KEY_NEVER_DELETED = /system keys are never deleted; retire them instead/;
const KEY_RETIRE_ONCE = /a system key can only be retired, once/;
const SIGNING_KEY_NEVER_DELETED = /gateway signing keys are never deleted; rotate them instead/;
const SIGNING_KEY_RETIRE_ONCE = /a gateway signing key can only be retired, once/;

/** Every guarded table, and each change it must refuse with the guard's own error. */
const REFUSED: Array<[table: string, statement: string, error: RegExp]> = [
  ['audit_events', `UPDATE audit_events SET event = jsonb_set(event, '{outcome}', '"denied"')`, APPEND_ONLY],
  ['audit_events', 'DELETE FROM audit_events WHERE sequence = 2', APPEND_ONLY],
  ['audit_events', 'TRUNCATE audit_events CASCADE', APPEND_ONLY],
  ['audit_checkpoints', "UPDATE audit_checkpoints SET jws = 'forged'", APPEND_ONLY],
  ['audit_checkpoints', 'DELETE FROM audit_checkpoints', APPEND_ONLY],
  ['audit_checkpoints', 'TRUNCATE audit_checkpoints', APPEND_ONLY],
  ['audit_settings', "UPDATE audit_settings SET value = 'another key'", APPEND_ONLY],
  ['audit_settings', 'DELETE FROM audit_settings', APPEND_ONLY],
  ['audit_settings', 'TRUNCATE audit_settings', APPEND_ONLY],
  ['audit_review_samples', "UPDATE audit_review_samples SET seed = 'redrawn'", APPEND_ONLY],
  ['audit_review_samples', 'DELETE FROM audit_review_samples', APPEND_ONLY],
  ['audit_review_samples', 'TRUNCATE audit_review_samples CASCADE', APPEND_ONLY],
  ['audit_review_items', "UPDATE audit_review_items SET reviewer = 'auditor-other'", APPEND_ONLY],
  ['audit_review_items', 'DELETE FROM audit_review_items', APPEND_ONLY],
  ['audit_review_items', 'TRUNCATE audit_review_items CASCADE', APPEND_ONLY],
  ['audit_review_findings', "UPDATE audit_review_findings SET finding = 'compliant'", APPEND_ONLY],
  ['audit_review_findings', 'DELETE FROM audit_review_findings', APPEND_ONLY],
  ['audit_review_findings', 'TRUNCATE audit_review_findings', APPEND_ONLY],
  ['audit_review_publications', "UPDATE audit_review_publications SET summary = '{}'", APPEND_ONLY],
  ['audit_review_publications', 'DELETE FROM audit_review_publications', APPEND_ONLY],
  ['audit_review_publications', 'TRUNCATE audit_review_publications', APPEND_ONLY],
  ['signing_keys', 'DELETE FROM signing_keys', SIGNING_KEY_NEVER_DELETED],
  ['signing_keys', 'TRUNCATE signing_keys', SIGNING_KEY_NEVER_DELETED],
  ['signing_keys', 'UPDATE signing_keys SET retired_at = NULL', SIGNING_KEY_RETIRE_ONCE],
  ['signing_keys', `UPDATE signing_keys SET public_jwk = '{"kty":"EC"}'`, SIGNING_KEY_RETIRE_ONCE],
  ['system_keys', 'UPDATE system_keys SET retired_at = NULL, retired_by = NULL', KEY_RETIRE_ONCE],
  ['system_keys', `UPDATE system_keys SET public_jwk = '{"kty":"EC"}'`, KEY_RETIRE_ONCE],
  ['system_keys', 'DELETE FROM system_keys', KEY_NEVER_DELETED],
  ['system_keys', 'TRUNCATE system_keys', KEY_NEVER_DELETED],
  ['system_keys', 'TRUNCATE systems CASCADE', KEY_NEVER_DELETED],
];
const GUARDED_TABLES = [...new Set(REFUSED.map(([table]) => table))];

/** The functions of the guards; any trigger calling one is a guard and must fire ALWAYS. */
const GUARD_FUNCTIONS = [
  'audit_refuse_change',
  'system_keys_retire_only',
  'system_keys_refuse_truncate',
  'signing_keys_retire_only',
  'signing_keys_refuse_truncate',
];

// pg_trigger.tgtype bits (src/include/catalog/pg_trigger.h).
const TRIGGER_TYPE_DELETE = 1 << 3;
const TRIGGER_TYPE_UPDATE = 1 << 4;
const TRIGGER_TYPE_TRUNCATE = 1 << 5;

async function seed(database: Database) {
  const keys = await openSigningKeyRing({ database, secret: SECRET });
  const log = await createAuditLog({
    database,
    hmacKey: HMAC_KEY,
    logger: createLogger('silent'),
    signer: keys,
    checkpointEvery: 2,
  });
  for (let index = 1; index <= 4; index += 1) {
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
  await database.query(
    `INSERT INTO audit_review_samples (id, created_by, from_at, to_at, seed, size, population, head_sequence,
       population_count, population_digest, reviewers)
     VALUES ($1, 'data-office/audit', '2026-01-01Z', '2026-12-31Z', 'seed', 1, '[1,2,3,4]', 4, 4, 'digest',
       '["auditor-li"]')`,
    [SAMPLE_ID],
  );
  await database.query(
    `INSERT INTO audit_review_items (sample_id, position, sequence, reviewer) VALUES ($1, 1, 3, 'auditor-li')`,
    [SAMPLE_ID],
  );
  await database.query(
    `INSERT INTO audit_review_findings (sample_id, sequence, finding, reviewer, recorded_by)
     VALUES ($1, 3, 'non-compliant', 'auditor-li', 'data-office/audit')`,
    [SAMPLE_ID],
  );
  await database.query(
    `INSERT INTO audit_review_publications (sample_id, published_by, summary)
     VALUES ($1, 'data-office/audit', '{"reviewed": 1}')`,
    [SAMPLE_ID],
  );
  await database.query(
    "INSERT INTO departments (code, name_en, name_zh) VALUES ('civil-affairs', 'Civil Affairs', '民政局')",
  );
  await database.query(
    `INSERT INTO systems (id, department, name, roles)
     VALUES ('civil-affairs/marriage-registry', 'civil-affairs', 'Marriage registry', '{lookup}')`,
  );
  await database.query(
    `INSERT INTO system_keys (system_id, kid, alg, public_jwk, thumbprint, created_by, retired_at, retired_by)
     VALUES ('civil-affairs/marriage-registry', 'k1', 'ES256', '{"kty":"EC","crv":"P-256","x":"x","y":"y"}',
       'thumbprint-1', 'test', now(), 'test'),
            ('civil-affairs/marriage-registry', 'k2', 'ES256', '{"kty":"EC","crv":"P-256","x":"x2","y":"y2"}',
       'thumbprint-2', 'test', NULL, NULL)`,
  );
}

/** Each guarded table's rows, as text, to show that nothing changed. */
async function snapshot(database: Database): Promise<Record<string, string[]>> {
  const tables: Record<string, string[]> = {};
  for (const table of [...GUARDED_TABLES, 'systems']) {
    const { rows } = await database.query<{ row: string }>(
      `SELECT t::text AS row FROM ${table} AS t ORDER BY 1`,
    );
    tables[table] = rows.map((row) => row.row);
  }
  return tables;
}

describe('as a superuser in session_replication_role = replica, on real PostgreSQL', () => {
  let testDb: TestDatabase;
  let database: Database;
  let client: pg.Client;
  let before: Record<string, string[]>;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    database = createPostgresDatabase({ connectionString: testDb.url });
    await seed(database);
    before = await snapshot(database);
    client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    const { rows } = await client.query<{ rolsuper: boolean }>(
      'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
    );
    expect(rows[0]?.rolsuper).toBe(true); // the test means nothing as an ordinary role
    await client.query('SET session_replication_role = replica');
    expect((await client.query('SHOW session_replication_role')).rows[0]).toEqual({
      session_replication_role: 'replica',
    });
  });
  afterAll(async () => {
    await client?.end();
    await database?.close();
    await testDb?.drop();
  });

  it.each(REFUSED)('%s: %s is refused by the guard', async (_table, statement, error) => {
    await expect(client.query(statement)).rejects.toThrow(error);
  });

  it('and inside a transaction too', async () => {
    await client.query('BEGIN');
    try {
      await client.query('SET LOCAL session_replication_role = replica');
      await expect(client.query('DELETE FROM audit_events WHERE sequence > 2')).rejects.toThrow(APPEND_ONLY);
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('leaves every guarded table as it was and the chain intact', async () => {
    expect(await snapshot(database)).toEqual(before);
    expect(before.audit_events).toHaveLength(4);
    expect(before.audit_checkpoints).toHaveLength(2);
    expect(before.system_keys).toHaveLength(2);
    expect(await verifyAuditLog(database)).toMatchObject({ ok: true, events: 4 });
  });

  it('every guard fires ALWAYS, and every guarded table refuses UPDATE, DELETE and TRUNCATE', async () => {
    const { rows } = await database.query<{ table: string; trigger: string; enabled: string; type: number }>(
      `SELECT c.relname AS table, t.tgname AS trigger, t.tgenabled AS enabled, t.tgtype AS type
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE NOT t.tgisinternal AND p.proname = ANY($1) ORDER BY 1, 2`,
      [GUARD_FUNCTIONS],
    );
    expect(rows.filter((row) => row.enabled !== 'A')).toEqual([]);
    const covered = new Map<string, number>();
    for (const row of rows) covered.set(row.table, (covered.get(row.table) ?? 0) | row.type);
    expect([...covered.keys()].sort()).toEqual([...GUARDED_TABLES].sort());
    for (const [table, type] of covered) {
      const ops = TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE | TRIGGER_TYPE_TRUNCATE;
      expect({ table, ops: type & ops }).toEqual({ table, ops });
    }
  });

  it('what a superuser can still do, disable the trigger, shows in the catalog and verify names the change', async () => {
    const other = await createTestDatabase();
    const otherDb = createPostgresDatabase({ connectionString: other.url });
    const tamperer = new pg.Client({ connectionString: other.url });
    try {
      await seed(otherDb);
      await tamperer.connect();
      await tamperer.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
      const { rows } = await otherDb.query<{ tgenabled: string }>(
        "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_events_append_only'",
      );
      expect(rows).toEqual([{ tgenabled: 'D' }]);
      await tamperer.query('DELETE FROM audit_events WHERE sequence = 2');
      expect((await verifyAuditLog(otherDb)).firstProblem).toMatchObject({ kind: 'removed', sequence: 2 });
    } finally {
      await tamperer.end();
      await otherDb.close();
      await other.drop();
    }
  });
});

describe('as the superuser in session_replication_role = replica, on embedded PGlite', () => {
  let database: Database;

  beforeAll(async () => {
    database = await createPgliteDatabase(undefined);
    await migrate(database, migrationsDir);
    await seed(database);
  });
  afterAll(async () => {
    await database?.close();
  });

  it('refuses every change the guards refuse on PostgreSQL, and changes nothing', async () => {
    const before = await snapshot(database);
    await database.exec('SET session_replication_role = replica');
    try {
      for (const [, statement, error] of REFUSED) {
        await expect(database.query(statement), statement).rejects.toThrow(error);
      }
    } finally {
      await database.exec('RESET session_replication_role');
    }
    expect(await snapshot(database)).toEqual(before);
  });
});
