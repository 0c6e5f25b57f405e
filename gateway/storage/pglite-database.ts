/**
 * The Database interface over PGlite (PostgreSQL compiled to WebAssembly) in a local folder, so the
 * gateway runs on a fresh machine without a database server. Only one process may open the folder:
 * a lock next to it (`directory-lock.ts`) makes a second one fail with a message naming the first.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';
import { type DirectoryLock, type DirectoryLockOptions, lockDirectory } from './directory-lock.js';

/** What to do when another process holds the folder: the gateway, or a command that is still running. */
export const EMBEDDED_DATABASE_IN_USE_ADVICE =
  'Only one process at a time may open the embedded database: stop the gateway (or let the other ' +
  'command finish) first, or use the running gateway’s HTTP API instead; to share one database ' +
  'between processes, use PostgreSQL (DATABASE_URL).';

function wrap(client: PGlite | Transaction): Queryable {
  return {
    async query<Row>(sql: string, params: unknown[] = []): Promise<QueryResult<Row>> {
      const result = await client.query<Row>(sql, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await client.exec(sql);
    },
  };
}

/** Takes the folder's lock, or throws DirectoryLockedError naming the process that holds it. */
async function lockDataDir(dataDir: string, options: DirectoryLockOptions): Promise<DirectoryLock> {
  await mkdir(dataDir, { recursive: true });
  return lockDirectory(dataDir, {
    what: `the embedded database ${dataDir}`,
    advice: EMBEDDED_DATABASE_IN_USE_ADVICE,
    ...options,
  });
}

/**
 * Embedded PostgreSQL in `dataDir`, held exclusively by this process until close(); `dataDir`
 * undefined keeps it in memory (tests), with no lock. PGlite has one connection: it serialises
 * queries and transactions itself.
 */
export async function createPgliteDatabase(
  dataDir: string | undefined,
  lockOptions: DirectoryLockOptions = {},
): Promise<Database> {
  const lock = dataDir ? await lockDataDir(dataDir, lockOptions) : undefined;
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
  } catch (error) {
    await lock?.release();
    throw error;
  }
  const direct = wrap(db);
  return {
    kind: 'pglite',
    query: direct.query,
    exec: direct.exec,
    transaction: (work) => db.transaction((tx) => work(wrap(tx))),
    async check(): Promise<void> {
      if (db.closed) throw new Error('the embedded database is closed');
      await db.query('SELECT 1');
    },
    async close(): Promise<void> {
      try {
        if (!db.closed) await db.close();
      } finally {
        await lock?.release();
      }
    },
  };
}
