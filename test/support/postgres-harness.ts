/**
 * Real PostgreSQL for tests: `DATABASE_URL`, else the local server (127.0.0.1:5432, user postgres,
 * database test). Global setup migrates one template database per run; each test file clones it
 * (`CREATE DATABASE x TEMPLATE t`), which takes milliseconds instead of re-running migrations.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

export function adminDatabaseUrl(env: Record<string, string | undefined> = process.env): string {
  return env.DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
}

export function databaseUrlFor(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdminClient<T>(
  adminUrl: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    const host = new URL(adminUrl).host;
    throw new Error(
      `Cannot reach PostgreSQL at ${host} (${(error as Error).message}). The integration tests need a real ` +
        'PostgreSQL server: start the local one (pg_ctlcluster 15 main start) or set DATABASE_URL to a ' +
        'database whose user may CREATE DATABASE.',
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export function uniqueDatabaseName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Creates and migrates the template database that test files clone. Returns its name. */
export async function createTemplateDatabase(adminUrl: string, runId: string): Promise<string> {
  const template = `silobridge_tpl_${runId}`;
  await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE ${template}`));
  const database = createPostgresDatabase({
    connectionString: databaseUrlFor(adminUrl, template),
    maxConnections: 1,
  });
  try {
    await migrate(database, migrationsDir);
  } finally {
    await database.close();
  }
  return template;
}

/** Drops every database this run created (the template and any clone a crashed test file left). */
export async function dropRunDatabases(adminUrl: string, runId: string): Promise<void> {
  await withAdminClient(adminUrl, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'silobridge\\_%' AND datname LIKE $1",
      [`%${runId}%`],
    );
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  });
}
