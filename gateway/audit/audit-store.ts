/**
 * The audit log's SQL: appending a batch to the chain under the chain lock, and reading the chain back
 * in order (for verification and export). Every gateway instance appends to one chain: the batch
 * transaction takes a transaction-scoped advisory lock, then reads the head (a fresh snapshot, taken
 * after the lock, under READ COMMITTED), so appends are totally ordered across instances.
 */
import type { Queryable } from '../storage/database.js';
import type { ChainRow, StoredAuditEvent } from './audit-chain.js';
import { GENESIS_HASH } from './audit-chain.js';

/** Arbitrary but fixed: the advisory lock every appender to the chain holds. */
export const AUDIT_CHAIN_LOCK = 0x51_10_b2_1f;

export interface ChainHead {
  sequence: number;
  hash: string;
  checkpointSequence: number;
  checkpointAt: Date | undefined;
  /** The newest checkpoint's compact JWS (read with the head at no extra cost: signed responses carry it). */
  checkpointJws: string | undefined;
}

/** Takes the chain lock for the rest of the transaction; gives up after `lockTimeoutMs` (then the batch fails). */
export async function lockChain(tx: Queryable, lockTimeoutMs: number): Promise<void> {
  // set_config(..., true) is transaction-local and is read when the lock wait starts, in this statement.
  await tx.query("SELECT set_config('lock_timeout', $2, true), pg_advisory_xact_lock($1)", [
    AUDIT_CHAIN_LOCK,
    `${lockTimeoutMs}ms`,
  ]);
}

export async function readHead(tx: Queryable): Promise<ChainHead> {
  const { rows } = await tx.query<{
    sequence: string | number | null;
    hash: string | null;
    checkpoint_sequence: string | number | null;
    checkpoint_at: Date | string | null;
    checkpoint_jws: string | null;
  }>(
    `SELECT e.sequence, e.hash, c.sequence AS checkpoint_sequence, c.at AS checkpoint_at, c.jws AS checkpoint_jws
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1) AS e ON true
       LEFT JOIN LATERAL (SELECT sequence, at, jws FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1) AS c ON true`,
  );
  const row = rows[0];
  return {
    sequence: Number(row?.sequence ?? 0),
    hash: row?.hash ?? GENESIS_HASH,
    checkpointSequence: Number(row?.checkpoint_sequence ?? 0),
    checkpointAt: row?.checkpoint_at ? new Date(row.checkpoint_at) : undefined,
    checkpointJws: row?.checkpoint_jws ?? undefined,
  };
}

export async function insertRows(tx: Queryable, rows: ChainRow[]): Promise<void> {
  // One statement and one JSON parameter for the whole batch: the same on pg and PGlite.
  await tx.query(
    `INSERT INTO audit_events (sequence, prev_hash, hash, event)
     SELECT (r->>'sequence')::bigint, r->>'prevHash', r->>'hash', r->'event'
       FROM jsonb_array_elements($1::jsonb) AS r`,
    [JSON.stringify(rows)],
  );
}

interface EventRow {
  sequence: string | number;
  prev_hash: string;
  hash: string;
  event: StoredAuditEvent;
}

export function toChainRow(row: EventRow): ChainRow {
  return { sequence: Number(row.sequence), prevHash: row.prev_hash, hash: row.hash, event: row.event };
}

/** The whole chain in sequence order, a page at a time (keyset pagination, so memory stays flat). */
export async function* readChain(db: Queryable, pageSize = 2000): AsyncGenerator<ChainRow> {
  let after = 0;
  for (;;) {
    const { rows } = await db.query<EventRow>(
      'SELECT sequence, prev_hash, hash, event FROM audit_events WHERE sequence > $1 ORDER BY sequence LIMIT $2',
      [after, pageSize],
    );
    for (const row of rows) yield toChainRow(row);
    const last = rows.at(-1);
    if (!last || rows.length < pageSize) return;
    after = Number(last.sequence);
  }
}

/** Runs `work` on one consistent snapshot of the log (events and checkpoints agree). */
export async function onSnapshot<T>(
  db: { transaction<R>(work: (tx: Queryable) => Promise<R>): Promise<R> },
  work: (tx: Queryable) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    return work(tx);
  });
}
