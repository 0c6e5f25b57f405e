import { mkdir } from 'node:fs/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';

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

/**
 * Embedded PostgreSQL (PGlite, PostgreSQL compiled to WebAssembly) in a local folder, so the gateway
 * runs on a fresh machine without a database server. `dataDir` undefined keeps it in memory (tests).
 * PGlite has one connection: it serialises queries and transactions itself.
 */
export async function createPgliteDatabase(dataDir: string | undefined): Promise<Database> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
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
      if (!db.closed) await db.close();
    },
  };
}
