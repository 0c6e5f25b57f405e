import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate, readMigrations } from '../../gateway/storage/migrations.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { databaseUrlFor, uniqueDatabaseName, withAdminClient } from '../support/postgres-harness.js';

async function appliedVersions(db: Database): Promise<number[]> {
  const { rows } = await db.query<{ version: number }>(
    'SELECT version FROM schema_migrations ORDER BY version',
  );
  return rows.map((row) => row.version);
}

async function expectAllMigrationsApplied(db: Database) {
  const all = (await readMigrations(migrationsDir)).map((m) => m.version);
  expect(all.length).toBeGreaterThan(0);
  const first = await migrate(db, migrationsDir);
  expect(first.applied).toEqual(all);
  expect(await appliedVersions(db)).toEqual(all);
  const second = await migrate(db, migrationsDir);
  expect(second).toEqual({ applied: [], alreadyApplied: all });
  // The schema is really there, not just recorded.
  await db.query(
    "INSERT INTO departments (code, name_en, name_zh) VALUES ('civil-affairs', 'Civil Affairs', '民政局')",
  );
  expect((await db.query('SELECT code FROM departments')).rows).toEqual([{ code: 'civil-affairs' }]);
}

describe('migrations on real PostgreSQL', () => {
  const adminUrl = inject('postgresAdminUrl');
  const name = uniqueDatabaseName(`silobridge_${inject('testRunId')}_empty`);
  let db: Database;

  beforeAll(async () => {
    await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
    db = createPostgresDatabase({ connectionString: databaseUrlFor(adminUrl, name) });
  });
  afterAll(async () => {
    await db?.close();
    await withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });

  it('applies every migration once, in order, and records it', async () => {
    await expectAllMigrationsApplied(db);
  });

  it('lets gateway instances starting together migrate without applying a file twice', async () => {
    const reports = await Promise.all([
      migrate(db, migrationsDir),
      migrate(db, migrationsDir),
      migrate(db, migrationsDir),
    ]);
    expect(reports.every((report) => report.applied.length === 0)).toBe(true);
  });
});

describe('migrations on embedded PGlite', () => {
  it('applies every migration once, in order, and records it', async () => {
    const db = await createPgliteDatabase(undefined);
    try {
      await expectAllMigrationsApplied(db);
    } finally {
      await db.close();
    }
  });

  it('refuses a migration that was edited after it ran, and leaves the database unchanged', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'silobridge-migrations-'));
    const db = await createPgliteDatabase(undefined);
    try {
      await cp(migrationsDir, dir, { recursive: true });
      await migrate(db, dir);
      const [first] = await readMigrations(dir);
      await writeFile(
        path.join(dir, `${String(first?.version).padStart(3, '0')}_${first?.name}.sql`),
        'SELECT 1;',
      );
      await writeFile(path.join(dir, '900_later.sql'), 'CREATE TABLE later (id int);');
      await expect(migrate(db, dir)).rejects.toThrow(/was changed after it was applied/);
      const later = await db.query("SELECT to_regclass('later') AS t");
      expect(later.rows).toEqual([{ t: null }]);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file that does not follow the naming rule', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'silobridge-migrations-'));
    try {
      await writeFile(path.join(dir, 'add-things.sql'), 'SELECT 1;');
      await expect(readMigrations(dir)).rejects.toThrow(/add-things.sql is not named NNN_description.sql/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
