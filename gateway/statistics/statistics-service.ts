/**
 * The answers built from the store's per-period, per-group rows: the data officers' statistics with
 * totals, the department scorecard, and the public summary. Totals are summed from the rows
 * (histograms add up, percentiles do not), so they always agree with them.
 */
import type { Database } from '../storage/database.js';
import { addHistograms, emptyHistogram, percentiles } from './latency-histogram.js';
import {
  type AggregateQuery,
  type AggregateRow,
  type Granularity,
  type GroupKey,
  inSnapshot,
  OUTCOME_COUNTERS,
  type OutcomeCounts,
  timeZones,
} from './statistics-store.js';

export interface LatencySummary {
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  mean: number | null;
}

export interface Counters extends OutcomeCounts {
  deniedByReason: Record<string, number>;
  /** Of the lookups the provider answered (granted, not found). */
  latencyMs: LatencySummary;
}

export interface StatisticsRow extends Counters {
  period: string;
  requester?: string | null;
  provider?: string | null;
  certificateType?: string | null;
}

export interface StatisticsQuery {
  from: string;
  to: string;
  granularity: Granularity;
  timeZone: string;
  groupBy: GroupKey[];
  requester?: string;
  provider?: string;
  certificateType?: string;
}

export interface SharingStatistics {
  from: string;
  to: string;
  granularity: Granularity;
  timeZone: string;
  groupBy: GroupKey[];
  rows: StatisticsRow[];
  totals: Counters;
}

export interface ProviderScore {
  department: string;
  /** Lookups the gateway passed on to the department: granted, not found, failed, timed out. */
  lookups: number;
  answeredWithinDeadline: number | null;
  timedOut: number;
  availability: number | null;
  observedMinutes: number;
  latencyMs: { p50: number | null; p95: number | null };
  schemaRejectedReplies: number;
}

export interface RequesterScore {
  department: string;
  lookups: number;
  denied: number;
  deniedByReason: Record<string, number>;
}

export interface Scorecard {
  from: string;
  to: string;
  providers: ProviderScore[];
  requesters: RequesterScore[];
}

export interface PublicSummary {
  from: string;
  to: string;
  generatedAt: string;
  providers: Array<{
    department: string;
    lookupsAnswered: number;
    answeredWithinDeadline: number | null;
    availability: number | null;
    medianLatencyMs: number | null;
  }>;
  requesters: Array<{ department: string; lookups: number; deniedShare: number | null }>;
  totals: { lookups: number; answered: number; denied: number; deniedShare: number | null };
}

export type TimeZoneCheck = 'ok' | 'unknown' | 'not-whole-hours';

export interface StatisticsService {
  statistics(query: StatisticsQuery): Promise<SharingStatistics>;
  scorecard(from: string, to: string): Promise<Scorecard>;
  publicSummary(from: string, to: string): Promise<PublicSummary>;
  checkTimeZone(name: string): Promise<TimeZoneCheck>;
}

/** The zone scorecards and the public summary use: they have one period, so only its name matters. */
const SUMMARY_TIME_ZONE = 'UTC';

const share = (part: number, whole: number) =>
  whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : null;

function latencyOf(histogram: number[], answered: number, latencySumMs: number): LatencySummary {
  const mean = answered > 0 ? Math.round((latencySumMs / answered) * 10) / 10 : null;
  return { ...percentiles(histogram, ['p50', 'p90', 'p95', 'p99']), mean };
}

function countersOf(row: AggregateRow): Counters {
  return {
    total: row.total,
    granted: row.granted,
    denied: row.denied,
    notFound: row.notFound,
    failed: row.failed,
    timedOut: row.timedOut,
    invalid: row.invalid,
    deniedByReason: row.deniedByReason,
    latencyMs: latencyOf(row.histogram, row.answered, row.answeredLatencySumMs),
  };
}

/** Adds rows up (counters, reasons, histograms): a total, or one department over every type. */
export function sumRows(rows: readonly AggregateRow[]): AggregateRow {
  const sum: AggregateRow = {
    period: '',
    total: 0,
    granted: 0,
    denied: 0,
    notFound: 0,
    failed: 0,
    timedOut: 0,
    invalid: 0,
    schemaRejected: 0,
    deniedByReason: {},
    answered: 0,
    answeredLatencySumMs: 0,
    histogram: emptyHistogram(),
  };
  for (const row of rows) {
    for (const key of [...OUTCOME_COUNTERS, 'schemaRejected', 'answered', 'answeredLatencySumMs'] as const) {
      sum[key] += row[key];
    }
    for (const [reason, n] of Object.entries(row.deniedByReason)) {
      sum.deniedByReason[reason] = (sum.deniedByReason[reason] ?? 0) + n;
    }
    addHistograms(sum.histogram, row.histogram);
  }
  return sum;
}

const routed = (row: AggregateRow) => row.granted + row.notFound + row.failed + row.timedOut;

export function createStatisticsService(database: Database): StatisticsService {
  let zones: Promise<Map<string, boolean>> | undefined;
  const perDepartment = (from: string, to: string, key: GroupKey): AggregateQuery => ({
    from,
    to,
    granularity: 'all',
    timeZone: SUMMARY_TIME_ZONE,
    groupBy: [key],
  });

  /** Per provider and per requester department over the whole period, in one snapshot. */
  async function departmentFigures(from: string, to: string) {
    const { byProvider, byRequester, availability } = await inSnapshot(database, async (snapshot) => ({
      byProvider: await snapshot.aggregate(perDepartment(from, to, 'provider')),
      byRequester: await snapshot.aggregate(perDepartment(from, to, 'requester')),
      availability: await snapshot.availability(from, to),
    }));
    const providerRows = new Map(
      byProvider.filter((row) => row.provider).map((row) => [row.provider as string, row]),
    );
    const departments = [...new Set([...providerRows.keys(), ...availability.keys()])].sort();
    const providers = departments.map((department) => {
      const row = providerRows.get(department) ?? sumRows([]);
      const observed = availability.get(department);
      const lookups = routed(row);
      const score: ProviderScore = {
        department,
        lookups,
        answeredWithinDeadline: share(lookups - row.timedOut, lookups),
        timedOut: row.timedOut,
        availability: observed ? share(observed.available, observed.observed) : null,
        observedMinutes: observed?.observed ?? 0,
        latencyMs: percentiles(row.histogram, ['p50', 'p95']),
        schemaRejectedReplies: row.schemaRejected,
      };
      return { score, answered: row.answered };
    });
    const requesters: RequesterScore[] = byRequester
      .filter((row) => row.requester)
      .map((row) => ({
        department: row.requester as string,
        lookups: row.total,
        denied: row.denied,
        deniedByReason: row.deniedByReason,
      }));
    return { providers, requesters };
  }

  return {
    async statistics(query) {
      const rows = await inSnapshot(database, (snapshot) => snapshot.aggregate(query));
      return {
        from: query.from,
        to: query.to,
        granularity: query.granularity,
        timeZone: query.timeZone,
        groupBy: query.groupBy,
        rows: rows.map((row) => {
          const groups: Partial<Record<GroupKey, string | null>> = {};
          for (const key of query.groupBy) groups[key] = row[key] ?? null;
          return { period: row.period, ...groups, ...countersOf(row) };
        }),
        totals: countersOf(sumRows(rows)),
      };
    },

    async scorecard(from, to) {
      const { providers, requesters } = await departmentFigures(from, to);
      return { from, to, providers: providers.map((provider) => provider.score), requesters };
    },

    async publicSummary(from, to) {
      const figures = await departmentFigures(from, to);
      const lookups = figures.requesters.reduce((sum, requester) => sum + requester.lookups, 0);
      const denied = figures.requesters.reduce((sum, requester) => sum + requester.denied, 0);
      return {
        from,
        to,
        generatedAt: new Date().toISOString(),
        providers: figures.providers.map(({ score, answered }) => ({
          department: score.department,
          lookupsAnswered: answered,
          answeredWithinDeadline: score.answeredWithinDeadline,
          availability: score.availability,
          medianLatencyMs: score.latencyMs.p50,
        })),
        requesters: figures.requesters.map((requester) => ({
          department: requester.department,
          lookups: requester.lookups,
          deniedShare: share(requester.denied, requester.lookups),
        })),
        totals: {
          lookups,
          answered: figures.providers.reduce((sum, provider) => sum + provider.answered, 0),
          denied,
          deniedShare: share(denied, lookups),
        },
      };
    },

    async checkTimeZone(name) {
      zones ??= timeZones(database).catch((error: unknown) => {
        zones = undefined;
        throw error;
      });
      const wholeHours = (await zones).get(name);
      if (wholeHours === undefined) return 'unknown';
      return wholeHours ? 'ok' : 'not-whole-hours';
    },
  };
}
