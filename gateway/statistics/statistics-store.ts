/**
 * The statistics' SQL. A query adds the hourly roll-up's rows for the whole hours of the period to
 * the raw lookup events it cannot cover: the events after the watermark (not folded yet) and those in
 * the part-hours at either end of the period. Both are read in one REPEATABLE READ snapshot with the
 * watermark, so every count is exact, whatever the roll-up job is doing meanwhile. Nothing is paged
 * to the gateway: PostgreSQL answers one row per period and group, with its latency histogram.
 */
import type { Database, Queryable } from '../storage/database.js';
import { HISTOGRAM_COLUMNS, LATENCY_LAYOUT, latencyBucketSql } from './latency-histogram.js';

export const GRANULARITIES = ['hour', 'day', 'week', 'month'] as const;
export type Granularity = (typeof GRANULARITIES)[number];
export const GROUP_KEYS = ['requester', 'provider', 'certificateType'] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

/** Lookups the provider department answered: the population of the latency percentiles. */
export const ANSWERED_OUTCOMES = ['granted', 'not-found'] as const;
/** Replies refused as malformed or not matching the schema (problem types of lookup-service.ts). */
export const SCHEMA_REJECTED_REASONS = ['invalid-provider-reply', 'invalid-provider-record'] as const;

export interface AggregateQuery {
  from: string;
  to: string;
  /** `all`: one period, the whole range. */
  granularity: Granularity | 'all';
  timeZone: string;
  groupBy: readonly GroupKey[];
  requester?: string;
  provider?: string;
  certificateType?: string;
}

/** The lookups counted per period and group: all of them, then by outcome (LOOKUP_OUTCOMES). */
export const OUTCOME_COUNTERS = [
  'total',
  'granted',
  'denied',
  'notFound',
  'failed',
  'timedOut',
  'invalid',
] as const;
export type OutcomeCounts = Record<(typeof OUTCOME_COUNTERS)[number], number>;

export interface AggregateRow extends OutcomeCounts {
  /** Start of the period as local time with its UTC offset, e.g. 2026-03-02T00:00:00+08:00. */
  period: string;
  requester?: string | null;
  provider?: string | null;
  certificateType?: string | null;
  schemaRejected: number;
  deniedByReason: Record<string, number>;
  /** Of the answered lookups (ANSWERED_OUTCOMES). */
  answered: number;
  answeredLatencySumMs: number;
  histogram: number[];
}

const COLUMN: Record<GroupKey, string> = {
  requester: 'requester',
  provider: 'provider',
  certificateType: 'certificate_type',
};

const HOUR_MS = 3_600_000;
const list = (values: readonly string[]) => values.map((value) => `'${value}'`).join(', ');

function periodSql(granularity: AggregateQuery['granularity']): string {
  if (granularity === 'all') return '$1::timestamptz';
  // By the UTC hour: in a zone with daylight saving time, a local hour can happen twice.
  if (granularity === 'hour') return "date_trunc('hour', t, 'UTC')";
  return `date_trunc('${granularity}', t, $7::text)`;
}

function aggregateSql(query: AggregateQuery): string {
  const groups = query.groupBy.map((key) => COLUMN[key]);
  const groupList = groups.map((column) => `, ${column}`).join('');
  const rawFilters = `($8::text IS NULL OR requester_department = $8) AND ($9::text IS NULL OR provider = $9)
      AND ($10::text IS NULL OR certificate_type = $10)`;
  const raw = (range: string) => `
    SELECT at, requester_department, provider, certificate_type, outcome, event FROM audit_events
    WHERE kind = 'lookup' AND ${range} AND ${rawFilters}`;
  return `
WITH raw AS (${raw('sequence > $5 AND at >= $1 AND at < $2')}
  UNION ALL ${raw('sequence <= $5 AND at >= $1 AND at < $3')}
  UNION ALL ${raw('sequence <= $5 AND at >= $4 AND at < $2')}
), facts AS (
  SELECT hour AS t, requester, provider, certificate_type, outcome, reason, lookups, latency_sum_ms,
         ${HISTOGRAM_COLUMNS.join(', ')}
  FROM statistics_lookup_hours
  WHERE $6::boolean AND hour >= $3 AND hour < $4 AND ($8::text IS NULL OR requester = $8)
    AND ($9::text IS NULL OR provider = $9) AND ($10::text IS NULL OR certificate_type = $10)
  UNION ALL
  SELECT at, coalesce(requester_department, ''), coalesce(provider, ''), coalesce(certificate_type, ''),
         outcome, coalesce(event->>'reason', ''), 1, (event->>'latencyMs')::float8,
         ${HISTOGRAM_COLUMNS.map((_column, index) => `(bucket = ${index})::int`).join(', ')}
  FROM (SELECT *, ${latencyBucketSql("(event->>'latencyMs')::float8")} AS bucket FROM raw) AS events
), agg AS (
  SELECT ${periodSql(query.granularity)} AS period${groupList}, outcome, reason, sum(lookups) AS n,
         sum(latency_sum_ms) AS latency, ${HISTOGRAM_COLUMNS.map((c) => `sum(${c}) AS ${c}`).join(', ')}
  FROM facts GROUP BY 1${groupList}, outcome, reason
)
SELECT to_char(period AT TIME ZONE $7::text, 'YYYY-MM-DD"T"HH24:MI:SS') AS period_local,
       extract(epoch FROM (period AT TIME ZONE $7::text) - (period AT TIME ZONE 'UTC')) AS offset_seconds
       ${groups.map((column) => `, nullif(${column}, '') AS ${column}`).join('')},
       sum(n) AS total,
       sum(n) FILTER (WHERE outcome = 'granted') AS granted,
       sum(n) FILTER (WHERE outcome = 'denied') AS denied,
       sum(n) FILTER (WHERE outcome = 'not-found') AS not_found,
       sum(n) FILTER (WHERE outcome = 'failed') AS failed,
       sum(n) FILTER (WHERE outcome = 'timed-out') AS timed_out,
       sum(n) FILTER (WHERE outcome = 'invalid') AS invalid,
       sum(n) FILTER (WHERE outcome = 'failed' AND reason IN (${list(SCHEMA_REJECTED_REASONS)})) AS schema_rejected,
       jsonb_object_agg(reason, n) FILTER (WHERE outcome = 'denied') AS denied_by_reason,
       sum(n) FILTER (WHERE outcome IN (${list(ANSWERED_OUTCOMES)})) AS answered,
       sum(latency) FILTER (WHERE outcome IN (${list(ANSWERED_OUTCOMES)})) AS answered_latency,
       ${HISTOGRAM_COLUMNS.map((c) => `sum(${c}) FILTER (WHERE outcome IN (${list(ANSWERED_OUTCOMES)})) AS ${c}`).join(',\n       ')}
FROM agg
GROUP BY period${groupList}
ORDER BY period${groupList}`;
}

type Row = Record<string, unknown>;

function offsetText(seconds: number): string {
  if (seconds === 0) return 'Z';
  const minutes = Math.abs(Math.round(seconds / 60));
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${seconds < 0 ? '-' : '+'}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

function toAggregateRow(row: Row, groupBy: readonly GroupKey[]): AggregateRow {
  const count = (name: string) => Number(row[name] ?? 0);
  const denied = (row.denied_by_reason ?? {}) as Record<string, unknown>;
  const deniedByReason: Record<string, number> = {};
  for (const [reason, n] of Object.entries(typeof denied === 'string' ? JSON.parse(denied) : denied)) {
    deniedByReason[reason || 'unspecified'] = (deniedByReason[reason || 'unspecified'] ?? 0) + Number(n);
  }
  const answered: AggregateRow = {
    period: `${row.period_local}${offsetText(Number(row.offset_seconds))}`,
    total: count('total'),
    granted: count('granted'),
    denied: count('denied'),
    notFound: count('not_found'),
    failed: count('failed'),
    timedOut: count('timed_out'),
    invalid: count('invalid'),
    schemaRejected: count('schema_rejected'),
    deniedByReason,
    answered: count('answered'),
    answeredLatencySumMs: count('answered_latency'),
    histogram: HISTOGRAM_COLUMNS.map((column) => count(column)),
  };
  for (const key of groupBy) answered[key] = (row[COLUMN[key]] as string | null) ?? null;
  return answered;
}

/** The whole hours [start, end) of [from, to) the roll-up can answer; empty (to, to) when none. */
export function wholeHours(from: string, to: string): { start: string; end: string } {
  const start = Math.ceil(Date.parse(from) / HOUR_MS) * HOUR_MS;
  const end = Math.floor(Date.parse(to) / HOUR_MS) * HOUR_MS;
  if (start >= end) return { start: to, end: to };
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
}

/** Reads in one snapshot: the watermark, and then any number of statements consistent with it. */
export interface StatisticsSnapshot {
  aggregate(query: AggregateQuery): Promise<AggregateRow[]>;
  availability(from: string, to: string): Promise<Map<string, { observed: number; available: number }>>;
}

async function openSnapshot(tx: Queryable): Promise<StatisticsSnapshot> {
  await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  const { rows } = await tx.query<{ last_sequence: string | number; layout: string }>(
    'SELECT last_sequence, layout FROM statistics_rollup_state WHERE id = 1',
  );
  // A roll-up made with other latency buckets is not used until the job has rebuilt it.
  const usable = rows[0]?.layout === LATENCY_LAYOUT;
  const watermark = usable ? Number(rows[0]?.last_sequence ?? 0) : 0;
  return {
    async aggregate(query) {
      const hours = wholeHours(query.from, query.to);
      const result = await tx.query<Row>(aggregateSql(query), [
        query.from,
        query.to,
        hours.start,
        hours.end,
        watermark,
        usable,
        query.timeZone,
        query.requester ?? null,
        query.provider ?? null,
        query.certificateType ?? null,
      ]);
      return result.rows.map((row) => toAggregateRow(row, query.groupBy));
    },
    async availability(from, to) {
      const result = await tx.query<{ department: string; observed: unknown; available: unknown }>(
        `SELECT department, count(*) AS observed, count(*) FILTER (WHERE live_instances > 0) AS available
         FROM statistics_connector_minutes WHERE minute >= $1 AND minute < $2 GROUP BY department`,
        [from, to],
      );
      return new Map(
        result.rows.map((row) => [
          row.department,
          { observed: Number(row.observed), available: Number(row.available) },
        ]),
      );
    },
  };
}

export function inSnapshot<T>(
  database: Database,
  work: (snapshot: StatisticsSnapshot) => Promise<T>,
): Promise<T> {
  return database.transaction(async (tx) => work(await openSnapshot(tx)));
}

/** Every time zone name the database knows, with whether its current UTC offset is whole hours. */
export async function timeZones(database: Queryable): Promise<Map<string, boolean>> {
  const { rows } = await database.query<{ name: string; whole_hours: boolean }>(
    'SELECT name, extract(minute FROM utc_offset) = 0 AND extract(second FROM utc_offset) = 0 AS whole_hours FROM pg_timezone_names',
  );
  return new Map(rows.map((row) => [row.name, row.whole_hours]));
}

/** Records how many live connector instances each department had in `minute`; the larger count wins. */
export async function recordConnectorMinute(
  database: Queryable,
  minute: string,
  liveByDepartment: Map<string, number>,
): Promise<void> {
  if (liveByDepartment.size === 0) return;
  await database.query(
    `INSERT INTO statistics_connector_minutes (minute, department, live_instances)
     SELECT $1::timestamptz, department, live FROM unnest($2::text[], $3::int[]) AS sample(department, live)
     ON CONFLICT (minute, department) DO UPDATE
       SET live_instances = greatest(statistics_connector_minutes.live_instances, excluded.live_instances)`,
    [minute, [...liveByDepartment.keys()], [...liveByDepartment.values()]],
  );
}
