/**
 * Folds lookup events into the hourly roll-up (migration 050). Each run takes the watermark row with
 * FOR UPDATE SKIP LOCKED: if another gateway instance is folding, this one skips its turn instead of
 * waiting. It folds at most `chunk` events after the watermark and moves the watermark in the same
 * transaction, so an event is in the roll-up exactly once. Events are committed in sequence order
 * (the chain's advisory lock), so the events up to the head a transaction sees have no gaps.
 */
import type { Database, Queryable } from '../storage/database.js';
import { HISTOGRAM_COLUMNS, LATENCY_LAYOUT, latencyBucketSql } from './latency-histogram.js';

export const DEFAULT_ROLLUP_CHUNK = 100_000;

export interface RollupRun {
  /** False when another instance held the watermark: nothing was done. */
  ran: boolean;
  /** Log events passed (lookups and every other kind). */
  folded: number;
  /** The watermark after the run. */
  lastSequence: number;
  /** Events still after the watermark. */
  behind: number;
  rebuilt: boolean;
}

interface StateRow {
  last_sequence: string | number;
  layout: string;
}

const KEY = 'hour, requester, provider, certificate_type, outcome, reason';
const HISTOGRAM_SUMS = HISTOGRAM_COLUMNS.map(
  (_column, index) => `count(*) FILTER (WHERE bucket = ${index})`,
).join(', ');
const HISTOGRAM_UPDATES = HISTOGRAM_COLUMNS.map(
  (column) => `${column} = statistics_lookup_hours.${column} + excluded.${column}`,
).join(', ');

const FOLD_SQL = `
INSERT INTO statistics_lookup_hours (${KEY}, lookups, latency_sum_ms, ${HISTOGRAM_COLUMNS.join(', ')})
SELECT date_trunc('hour', at, 'UTC'), coalesce(requester_department, ''), coalesce(provider, ''),
       coalesce(certificate_type, ''), outcome, coalesce(event->>'reason', ''),
       count(*), coalesce(sum(latency), 0), ${HISTOGRAM_SUMS}
FROM (
  SELECT at, requester_department, provider, certificate_type, outcome, event,
         (event->>'latencyMs')::float8 AS latency,
         ${latencyBucketSql("(event->>'latencyMs')::float8")} AS bucket
  FROM audit_events
  WHERE sequence > $1 AND sequence <= $2 AND kind = 'lookup'
) AS folded
GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (${KEY}) DO UPDATE SET
  lookups = statistics_lookup_hours.lookups + excluded.lookups,
  latency_sum_ms = statistics_lookup_hours.latency_sum_ms + excluded.latency_sum_ms,
  ${HISTOGRAM_UPDATES}`;

async function foldOnce(tx: Queryable, chunk: number): Promise<RollupRun> {
  const { rows } = await tx.query<StateRow>(
    'SELECT last_sequence, layout FROM statistics_rollup_state WHERE id = 1 FOR UPDATE SKIP LOCKED',
  );
  const state = rows[0];
  if (!state) return { ran: false, folded: 0, lastSequence: 0, behind: 0, rebuilt: false };
  let from = Number(state.last_sequence);
  const rebuilt = state.layout !== LATENCY_LAYOUT;
  if (rebuilt) {
    // Rows made with other bucket boundaries cannot be added to: start again from the log.
    await tx.query('DELETE FROM statistics_lookup_hours');
    from = 0;
  }
  const head = await tx.query<{ head: string | number | null }>(
    'SELECT max(sequence) AS head FROM audit_events',
  );
  const headSequence = Number(head.rows[0]?.head ?? 0);
  const to = Math.min(headSequence, from + chunk);
  if (to > from) await tx.query(FOLD_SQL, [from, to]);
  if (to > from || rebuilt) {
    await tx.query(
      'UPDATE statistics_rollup_state SET last_sequence = $1, layout = $2, updated_at = now() WHERE id = 1',
      [to, LATENCY_LAYOUT],
    );
  }
  return { ran: true, folded: to - from, lastSequence: to, behind: headSequence - to, rebuilt };
}

/** One transaction: folds up to `chunk` events after the watermark and moves it. */
export function rollUpOnce(database: Database, chunk = DEFAULT_ROLLUP_CHUNK): Promise<RollupRun> {
  return database.transaction((tx) => foldOnce(tx, chunk));
}

/**
 * Folds until caught up, another instance is folding, or `keepGoing` says stop (shutdown); resolves
 * with the log events passed.
 */
export async function rollUp(
  database: Database,
  chunk = DEFAULT_ROLLUP_CHUNK,
  keepGoing: () => boolean = () => true,
): Promise<number> {
  let folded = 0;
  for (;;) {
    const run = await rollUpOnce(database, chunk);
    folded += run.folded;
    if (!run.ran || run.behind === 0 || !keepGoing()) return folded;
  }
}
