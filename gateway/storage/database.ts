/**
 * The small query interface every store uses, with two implementations that run the same SQL:
 * PostgreSQL through `pg` (`postgres-database.ts`) and embedded PGlite (`pglite-database.ts`).
 */

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface Queryable {
  /** One parameterised statement ($1, $2, ...). */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
  /** A script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `work` in one transaction on one connection: committed if it resolves, rolled back if it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Rejects with a reason when the database cannot be reached (for /readyz). */
  check(): Promise<void>;
  close(): Promise<void>;
}
