import pg from 'pg';
import type { Database, Queryable, QueryResult } from './database.js';

export interface PostgresDatabaseOptions {
  connectionString: string;
  maxConnections?: number;
  /** How long `check()` and a new connection may take before failing. */
  connectTimeoutMs?: number;
}

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<Row>(sql: string, params: unknown[] = []): Promise<QueryResult<Row>> {
      const result = await client.query(sql, params);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      // Without parameters pg uses the simple query protocol, which accepts several statements.
      await client.query(sql);
    },
  };
}

export function createPostgresDatabase(options: PostgresDatabaseOptions): Database {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: connectTimeoutMs,
    application_name: 'silobridge',
  });
  // A connection lost to a database restart must not crash the process: idle clients report it on
  // the pool, checked-out ones on themselves. The query in flight still rejects (and the request
  // fails closed with 503); the pool discards the client and the next query reconnects.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const pooled = wrap(pool);

  return {
    kind: 'postgres',
    query: pooled.query,
    exec: pooled.exec,
    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is discarded, not handed to the next caller.
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async check(): Promise<void> {
      await pool.query({ text: 'SELECT 1', query_timeout: connectTimeoutMs } as pg.QueryConfig);
    },
    async close(): Promise<void> {
      await pool.end();
    },
  };
}
