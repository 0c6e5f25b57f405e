/**
 * The statistics as CSV (RFC 4180, CRLF): one line per period and group, denial reasons flattened to
 * `denied:<reason>` columns. Spreadsheets run a cell starting with = + - @ (or a tab or carriage
 * return) as a formula, so such a cell is prefixed with ' (OWASP's CSV injection advice).
 */
import type { SharingStatistics } from './statistics-service.js';
import { OUTCOME_COUNTERS } from './statistics-store.js';

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function statisticsCsv(statistics: SharingStatistics): string {
  const reasons = [...new Set(statistics.rows.flatMap((row) => Object.keys(row.deniedByReason)))].sort();
  const header = [
    'period',
    ...statistics.groupBy,
    ...OUTCOME_COUNTERS,
    ...reasons.map((reason) => `denied:${reason}`),
    'latencyP50Ms',
    'latencyP90Ms',
    'latencyP95Ms',
    'latencyP99Ms',
  ];
  const lines = statistics.rows.map((row) => [
    row.period,
    ...statistics.groupBy.map((key) => row[key]),
    row.total,
    row.granted,
    row.denied,
    row.notFound,
    row.failed,
    row.timedOut,
    row.invalid,
    ...reasons.map((reason) => row.deniedByReason[reason] ?? 0),
    row.latencyMs.p50,
    row.latencyMs.p90,
    row.latencyMs.p95,
    row.latencyMs.p99,
  ]);
  return [header, ...lines].map((cells) => `${cells.map(csvCell).join(',')}\r\n`).join('');
}
