/**
 * The statistics routes' query parameters. Every mistake is a 400 naming the parameter (InputReader);
 * unknown parameters are refused, so a typo cannot silently widen a figure.
 */
import { InputReader } from '../http/input-reader.js';
import { CERTIFICATE_TYPE_PATTERN, DEPARTMENT_CODE_PATTERN } from '../protocol/codes.js';
import type { StatisticsQuery, StatisticsService } from './statistics-service.js';
import { GRANULARITIES, GROUP_KEYS, type Granularity } from './statistics-store.js';

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
export const DEFAULT_PERIOD_DAYS = 30;
/** Longest period per granularity: bounds the rows one answer can have. */
export const MAX_PERIOD_DAYS: Record<Granularity, number> = { hour: 45, day: 1100, week: 3700, month: 3700 };
/** Longest period of a scorecard, and of the anonymous public summary. */
export const MAX_SUMMARY_DAYS = 366;
const TIME_ZONE = /^[A-Za-z][A-Za-z0-9_+/-]{0,63}$/;
const GRANULARITY = new RegExp(`^(${GRANULARITIES.join('|')})$`);

export type StatisticsFormat = 'json' | 'csv';

interface Period {
  from: string;
  to: string;
}

/**
 * `from` and `to`, defaulting to the last 30 days before `to` (or now). `wholeHours` widens the period
 * to whole hours (from down, to up) after checking it.
 */
function readPeriod(
  reader: InputReader,
  now: number,
  maxDays: number,
  wholeHours = false,
): Period | undefined {
  const givenFrom = reader.dateTime('from');
  const givenTo = reader.dateTime('to');
  if (reader.errors.some((error) => error.pointer === '/from' || error.pointer === '/to')) return undefined;
  const to = givenTo ? Date.parse(givenTo) : now;
  const from = givenFrom ? Date.parse(givenFrom) : to - DEFAULT_PERIOD_DAYS * DAY_MS;
  if (from >= to) return reader.fail('to', 'must be after from');
  if (to - from > maxDays * DAY_MS) return reader.fail('to', `must be at most ${maxDays} days after from`);
  const widen = (time: number, round: (x: number) => number) =>
    new Date(wholeHours ? round(time / HOUR_MS) * HOUR_MS : time).toISOString();
  return { from: widen(from, Math.floor), to: widen(to, Math.ceil) };
}

export async function readStatisticsQuery(
  query: Record<string, unknown>,
  service: Pick<StatisticsService, 'checkTimeZone'>,
  now = Date.now(),
): Promise<{ query: StatisticsQuery; format: StatisticsFormat }> {
  const reader = new InputReader(query);
  const granularity = (reader.string('granularity', GRANULARITY, GRANULARITIES.join(', ')) ??
    'day') as Granularity;
  // `groupBy=` (empty) asks for one row per period; absent means every dimension.
  const noGroups = reader.raw('groupBy') === '';
  const groupBy = noGroups ? [] : (reader.list('groupBy', GROUP_KEYS) ?? [...GROUP_KEYS]);
  const period = readPeriod(reader, now, MAX_PERIOD_DAYS[granularity]);
  const requester = reader.string('requester', DEPARTMENT_CODE_PATTERN, 'a department code');
  const provider = reader.string('provider', DEPARTMENT_CODE_PATTERN, 'a department code');
  const certificateType = reader.string('certificateType', CERTIFICATE_TYPE_PATTERN, 'a certificate type');
  const format = (reader.string('format', /^(json|csv)$/, 'json or csv') ?? 'json') as StatisticsFormat;
  const timeZone = reader.string('timeZone', TIME_ZONE, 'an IANA time zone name, e.g. Asia/Shanghai');
  if (timeZone !== undefined) {
    const check = await service.checkTimeZone(timeZone);
    if (check === 'unknown') reader.fail('timeZone', 'is not a known IANA time zone, e.g. Asia/Shanghai');
    if (check === 'not-whole-hours') {
      reader.fail('timeZone', 'must be a whole number of hours from UTC: statistics are kept by the hour');
    }
  }
  reader.rejectUnknown();
  reader.done('The statistics request');
  return {
    query: {
      from: period?.from ?? '',
      to: period?.to ?? '',
      granularity,
      timeZone: timeZone ?? DEFAULT_TIME_ZONE,
      groupBy,
      ...(requester ? { requester } : {}),
      ...(provider ? { provider } : {}),
      ...(certificateType ? { certificateType } : {}),
    },
    format,
  };
}

/** The scorecard's period; `wholeHours` for the public summary (fewer distinct answers to cache). */
export function readSummaryPeriod(
  query: Record<string, unknown>,
  wholeHours: boolean,
  now = Date.now(),
): Period {
  const reader = new InputReader(query);
  const period = readPeriod(reader, now, MAX_SUMMARY_DAYS, wholeHours);
  reader.rejectUnknown();
  reader.done('The request');
  return period as Period;
}
