/**
 * Sharing statistics at scale on real PostgreSQL: seeds a log of lookup events spread over 90 days
 * (realistic mix of departments, types, outcomes, reasons and latencies), folds it into the hourly
 * roll-up, and times the statistics routes' queries cold (first run on a new connection; the
 * server's buffer cache is not dropped) and warm (median of 5), against the same query answered from
 * audit_events alone (the roll-up switched off), which is what the roll-up saves.
 * Run: node --import tsx test/bench/statistics-query.ts [events=1000000]
 * Uses DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/test); creates and drops its
 * own database. The seeded events are inserted with SQL, not through the audit log: their hashes only
 * satisfy the columns' CHECKs, so the seeded chain does NOT verify.
 */
import { randomBytes } from 'node:crypto';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import { rollUp } from '../../gateway/statistics/statistics-rollup.js';
import {
  createStatisticsService,
  type StatisticsQuery,
} from '../../gateway/statistics/statistics-service.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { adminDatabaseUrl, databaseUrlFor, withAdminClient } from '../support/postgres-harness.js';

const EVENTS = Number(process.argv[2] ?? 1_000_000);
const DAYS = 90;
const BATCH = 100_000;
const TAIL = 10_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The log ends at this whole hour: "the last 30 days" are full of events. */
const END = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;

/**
 * One statement per batch: event i is at an even share of 90 days (in sequence order, like a real
 * log); requester, type (and so provider), outcome, reason and latency are drawn with random().
 * Latency: log-normal around 40 ms for answers, ~1 ms for refusals, over 5 s for timeouts.
 */
const SEED_SQL = `
INSERT INTO audit_events (sequence, prev_hash, hash, event)
SELECT i, repeat('0', 64), repeat('0', 64), jsonb_strip_nulls(jsonb_build_object(
  'kind', 'lookup', 'lookupId', 'bench-' || i,
  'at', to_char(to_timestamp(($2::float8 + (i - 1) * $3::float8) / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'requester', jsonb_build_object('department', requester, 'system', requester || '/approval'),
  'purpose', jsonb_build_object('matter', 'M-0001', 'caseRef', 'CASE-' || i, 'officer', 'officer-' || (i % 97)),
  'certificateType', type, 'provider', provider, 'outcome', outcome, 'status', status,
  'reason', reason, 'latencyMs', round(latency::numeric, 3)))
FROM (
  SELECT i, requester, type, provider, outcome, status, reason,
    CASE WHEN outcome IN ('denied', 'invalid') THEN 0.3 + random()
         WHEN outcome = 'timed-out' THEN 5000 + random() * 50
         ELSE exp(ln(40) + 0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) END AS latency
  FROM (
    SELECT i, requester, type, provider, outcome,
      CASE outcome WHEN 'granted' THEN 200 WHEN 'denied' THEN 403 WHEN 'not-found' THEN 404
        WHEN 'failed' THEN 502 WHEN 'timed-out' THEN 504 ELSE 400 END AS status,
      CASE outcome
        WHEN 'denied' THEN (ARRAY['no-policy', 'matter-not-allowed', 'field-not-allowed', 'rate-limited'])[1 + floor(random() * 4)::int]
        WHEN 'not-found' THEN 'record-not-found'
        WHEN 'failed' THEN (ARRAY['provider-error', 'no-live-connector', 'invalid-provider-record'])[1 + floor(random() * 3)::int]
        WHEN 'timed-out' THEN 'provider-timeout'
        WHEN 'invalid' THEN 'invalid-subject' END AS reason
    FROM (
      SELECT i,
        (ARRAY['service-centre', 'civil-affairs', 'market-regulation', 'natural-resources', 'public-security',
               'human-resources', 'housing', 'taxation'])[1 + floor(random() * random() * 8)::int] AS requester,
        t.type, t.provider,
        CASE WHEN r < 0.85 THEN 'granted' WHEN r < 0.91 THEN 'denied' WHEN r < 0.96 THEN 'not-found'
             WHEN r < 0.98 THEN 'failed' WHEN r < 0.99 THEN 'timed-out' ELSE 'invalid' END AS outcome
      FROM (SELECT i, random() AS r, 1 + floor(random() * 5)::int AS k FROM generate_series($1::bigint, $1::bigint + $4 - 1) AS i) AS g
      JOIN (VALUES (1, 'resident-id-card', 'public-security'), (2, 'marriage-certificate', 'civil-affairs'),
                   (3, 'business-licence', 'market-regulation'), (4, 'food-business-licence', 'market-regulation'),
                   (5, 'real-estate-certificate', 'natural-resources')) AS t(k, type, provider) USING (k)
    ) AS drawn
  ) AS with_reason
) AS with_latency`;

async function seed(database: Database, from: number, count: number, startMs: number, stepMs: number) {
  for (let done = 0; done < count; done += BATCH) {
    await database.query(SEED_SQL, [
      from + done,
      startMs + done * stepMs,
      stepMs,
      Math.min(BATCH, count - done),
    ]);
  }
}

async function time<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const result = await work();
  return { ms: performance.now() - started, result };
}

const iso = (ms: number) => new Date(ms).toISOString();

async function main() {
  const adminUrl = adminDatabaseUrl();
  const name = `silobridge_bench_statistics_${randomBytes(4).toString('hex')}`;
  await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = databaseUrlFor(adminUrl, name);
  let database = createPostgresDatabase({ connectionString: url });
  const rows: Array<[string, string, string, string]> = [];
  const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;
  try {
    await migrate(database, migrationsDir);
    const step = (DAYS * DAY_MS) / EVENTS;
    const seeded = await time(() => seed(database, 1, EVENTS, END - DAYS * DAY_MS, step));
    await database.query('ANALYZE audit_events');
    console.log(`seeded ${EVENTS} lookup events over ${DAYS} days in ${(seeded.ms / 1000).toFixed(1)} s`);

    const caughtUp = await time(() => rollUp(database));
    await database.query('ANALYZE statistics_lookup_hours');
    const counted = await database.query<{ n: string }>('SELECT count(*) AS n FROM statistics_lookup_hours');
    rows.push([
      `roll-up catch-up over all ${EVENTS} events`,
      ms(caughtUp.ms),
      '',
      `${counted.rows[0]?.n} roll-up rows`,
    ]);

    const last30 = { from: iso(END - 30 * DAY_MS), to: iso(END) };
    const all: StatisticsQuery['groupBy'] = ['requester', 'provider', 'certificateType'];
    const base = { timeZone: 'Asia/Shanghai', groupBy: all };
    const hour = END - 10 * DAY_MS;
    const cases: Array<[string, (s: ReturnType<typeof createStatisticsService>) => Promise<unknown>]> = [
      [
        'statistics, 30 days by day, grouped by all three',
        (s) => s.statistics({ ...base, ...last30, granularity: 'day' }),
      ],
      [
        'statistics, 90 days by month, grouped by all three',
        (s) => s.statistics({ ...base, from: iso(END - DAYS * DAY_MS), to: iso(END), granularity: 'month' }),
      ],
      [
        'statistics, one hour, grouped by all three',
        (s) => s.statistics({ ...base, from: iso(hour), to: iso(hour + HOUR_MS), granularity: 'hour' }),
      ],
      ['scorecard, 30 days', (s) => s.scorecard(last30.from, last30.to)],
      ['public summary, 30 days', (s) => s.publicSummary(last30.from, last30.to)],
    ];
    const measure = async (
      label: string,
      run: (s: ReturnType<typeof createStatisticsService>) => Promise<unknown>,
    ) => {
      // Cold: a new connection (no cached plans or catalog); warm: the median of five more runs.
      await database.close();
      database = createPostgresDatabase({ connectionString: url });
      const service = createStatisticsService(database);
      const cold = await time(() => run(service));
      const warm: number[] = [];
      for (let i = 0; i < 5; i += 1) warm.push((await time(() => run(service))).ms);
      warm.sort((a, b) => a - b);
      const result = cold.result as { rows?: unknown[]; providers?: unknown[] };
      const size = result.rows ? `${result.rows.length} rows` : `${result.providers?.length} providers`;
      rows.push([label, ms(cold.ms), ms(warm[2] as number), size]);
    };
    for (const [label, run] of cases) await measure(label, run);

    // The same 30-day query with the roll-up switched off: PostgreSQL aggregates audit_events itself.
    await database.query("UPDATE statistics_rollup_state SET layout = 'switched-off-for-the-baseline'");
    await measure('baseline: 30 days by day from audit_events alone (no roll-up)', (s) =>
      s.statistics({ ...base, ...last30, granularity: 'day' }),
    );
    await database.transaction(async (tx) => {
      // Put the layout back without refolding (the rows are still those of this layout).
      const { LATENCY_LAYOUT } = await import('../../gateway/statistics/latency-histogram.js');
      await tx.query('UPDATE statistics_rollup_state SET layout = $1', [LATENCY_LAYOUT]);
    });

    // New events not folded yet: the query adds them from the log (the tail).
    await seed(database, EVENTS + 1, TAIL, END - HOUR_MS, HOUR_MS / TAIL);
    await database.query('ANALYZE audit_events');
    await measure(`statistics, 30 days by day, with ${TAIL} events not yet folded`, (s) =>
      s.statistics({ ...base, ...last30, granularity: 'day' }),
    );
    const folded = await time(() => rollUp(database));
    rows.push([`roll-up of the ${TAIL} new events`, ms(folded.ms), '', '']);

    const widths = [0, 1, 2, 3].map((c) =>
      Math.max(...[['', 'cold', 'warm', 'answer'], ...rows].map((r) => (r[c] ?? '').length)),
    );
    const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c] as number)).join(' | ')} |`;
    const version = await database.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    console.log(`\nPostgreSQL ${version.rows[0]?.v}, ${EVENTS} lookup events over ${DAYS} days`);
    console.log(line(['', 'cold', 'warm', 'answer']));
    console.log(line(widths.map((w) => '-'.repeat(w))));
    for (const row of rows) console.log(line(row));
    console.log('\n(the seeded events do not form a valid hash chain: audit verify would report them)');
  } finally {
    await database.close();
    await withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

await main();
