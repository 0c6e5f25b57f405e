/**
 * The audit log's SQL: appending a batch to the chain under the chain lock, and reading the chain back
 * in order (for verification and export). Every gateway instance appends to one chain under a
 * transaction-scoped advisory lock, reading the head after the lock is granted (a fresh snapshot under
 * READ COMMITTED), so appends are totally ordered across instances: in one statement that checks the
 * batch continues the head (`appendRows`), or in a transaction that holds the lock while the batch is
 * linked (`lockChain`, `readHead`, `insertRows`).
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

/** The head and newest checkpoint as both head queries return them (null while the chain is empty). */
interface HeadRow {
  sequence: string | number | null;
  hash: string | null;
  checkpoint_sequence: string | number | null;
  checkpoint_at: Date | string | null;
  checkpoint_jws: string | null;
}

function toChainHead(row: HeadRow | undefined): ChainHead {
  return {
    sequence: Number(row?.sequence ?? 0),
    hash: row?.hash ?? GENESIS_HASH,
    checkpointSequence: Number(row?.checkpoint_sequence ?? 0),
    checkpointAt: row?.checkpoint_at ? new Date(row.checkpoint_at) : undefined,
    checkpointJws: row?.checkpoint_jws ?? undefined,
  };
}

export async function readHead(tx: Queryable): Promise<ChainHead> {
  const { rows } = await tx.query<HeadRow>(
    `SELECT e.sequence, e.hash, c.sequence AS checkpoint_sequence, c.at AS checkpoint_at, c.jws AS checkpoint_jws
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1) AS e ON true
       LEFT JOIN LATERAL (SELECT sequence, at, jws FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1) AS c ON true`,
  );
  return toChainHead(rows[0]);
}

/** What `appendRows` found: whether the batch went in, and the chain's head after it either way. */
export interface AppendResult {
  appended: boolean;
  head: ChainHead;
}

/**
 * Appends `rows` (linked onto the head this writer last saw) in one statement and one round trip:
 * the migration 110 function takes the chain lock and writes the batch only if its first row still
 * continues the chain's head. If another writer appended first, nothing is written and the result
 * holds the head to relink onto. Runs as its own transaction, so never inside `database.transaction`.
 */
export async function appendRows(
  db: Queryable,
  rows: ChainRow[],
  lockTimeoutMs: number,
): Promise<AppendResult> {
  const { rows: result } = await db.query<HeadRow & { appended: boolean }>(
    `SELECT appended, head_sequence AS sequence, head_hash AS hash, checkpoint_sequence, checkpoint_at, checkpoint_jws
       FROM audit_append($1::jsonb, $2, $3)`,
    [JSON.stringify(rows), AUDIT_CHAIN_LOCK, `${lockTimeoutMs}ms`],
  );
  const row = result[0];
  if (!row) throw new Error('audit_append returned no row');
  return { appended: row.appended, head: toChainHead(row) };
}

/** Inserts linked rows inside a transaction that holds the chain lock (see `lockChain`). */
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
