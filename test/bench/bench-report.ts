/**
 * The separate-process benchmark's report: the rows measured, the ratios issues 12 and 13 set targets for,
 * a Markdown table, and the section of docs/performance.md between the bench markers (replaced on
 * every run, so a rerun updates it).
 */
import { readFile, writeFile } from 'node:fs/promises';

export interface BenchRow {
  /** Stable key of the case (e.g. `kafka`, `loop-one-send`), and the concurrency it ran at. */
  key: string;
  label: string;
  concurrency: number;
  /** Lookups (batch items, round trips, requests) answered per second. */
  rate: number;
  /** Per call (for the batch route: per call of 100), ms. */
  p50: number;
  p90: number;
  p99: number;
  /** CPU seconds of the measured process per 1,000 lookups (items); NaN where not measured. */
  cpuPer1000: number;
  peakRssMiB: number;
  /** Kafka requests the measured process sent per lookup (item), by API; empty without Kafka. */
  kafkaPerItem: Record<string, number>;
  items: number;
  failures: Record<string, number>;
}

export interface Ratio {
  name: string;
  value: number;
  target: string;
  met: boolean;
}

export interface BenchReport {
  command: string;
  machine: string;
  loadBefore: string;
  loadAfter: string;
  versions: string;
  rows: BenchRow[];
  ratios: Ratio[];
  notes: string[];
}

export const DOC_BEGIN = '<!-- bench:begin (written by `npm run bench`: reruns replace this section) -->';
export const DOC_END = '<!-- bench:end -->';

function row(rows: BenchRow[], key: string, concurrency: number): BenchRow | undefined {
  return rows.find((r) => r.key === key && r.concurrency === concurrency);
}

/** Issue 12's and 13's ratios, each from rows of this run (NaN where a row is missing). */
export function ratiosOf(rows: BenchRow[]): Ratio[] {
  const value = (key: string, c: number, field: 'rate' | 'p50' | 'p99' | 'cpuPer1000') =>
    row(rows, key, c)?.[field] ?? Number.NaN;
  const ratio = (name: string, v: number, target: string, met: (v: number) => boolean): Ratio => ({
    name,
    value: v,
    target,
    met: Number.isFinite(v) && met(v),
  });
  return [
    ratio(
      'full lookup over Kafka / bare loop, one send per message (lookups/s at 32)',
      value('kafka', 32, 'rate') / value('loop-one-send', 32, 'rate'),
      '>= 0.8',
      (v) => v >= 0.8,
    ),
    ratio(
      'full lookup over Kafka / bare loop, sends coalesced (lookups/s at 32)',
      value('kafka', 32, 'rate') / value('loop-coalesced', 32, 'rate'),
      '>= 0.6',
      (v) => v >= 0.6,
    ),
    ratio(
      'p99 at 1 in flight: full lookup over Kafka / bare loop, one send',
      value('kafka', 1, 'p99') / value('loop-one-send', 1, 'p99'),
      '<= 1.5',
      (v) => v <= 1.5,
    ),
    ratio(
      'gateway CPU per lookup (Kafka) / bare Express CPU per request (at 32)',
      value('kafka', 32, 'cpuPer1000') / value('express', 32, 'cpuPer1000'),
      '<= 3',
      (v) => v <= 3,
    ),
    ratio(
      'audit on / audit off (lookups/s over Kafka at 32)',
      value('kafka', 32, 'rate') / value('kafka-audit-off', 32, 'rate'),
      '>= 0.85',
      (v) => v >= 0.85,
    ),
    ratio(
      'batch route: gateway CPU per item / per single lookup (at 32)',
      value('batch', 32, 'cpuPer1000') / value('kafka', 32, 'cpuPer1000'),
      '<= 0.125',
      (v) => v <= 0.125,
    ),
    // Issue 13: "a bundle of 3 costs at most 1.5 times the latency of one lookup", at the median and p99.
    ratio(
      'SC-0201 evidence bundle of 3 / one lookup of its types, p50 at 1 in flight',
      value('bundle', 1, 'p50') / value('matter-lookup', 1, 'p50'),
      '<= 1.5',
      (v) => v <= 1.5,
    ),
    ratio(
      'SC-0201 evidence bundle of 3 / one lookup of its types, p99 at 1 in flight',
      value('bundle', 1, 'p99') / value('matter-lookup', 1, 'p99'),
      '<= 1.5',
      (v) => v <= 1.5,
    ),
    ratio(
      'in-process bus / Kafka (lookups/s at 32; no target)',
      value('in-process', 32, 'rate') / value('kafka', 32, 'rate'),
      '-',
      () => true,
    ),
  ];
}

const fixed = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const grouped = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-GB') : '-');

function kafkaText(perItem: Record<string, number>): string {
  const entries = Object.entries(perItem);
  if (entries.length === 0) return '-';
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const main = ['Produce', 'Fetch', 'OffsetCommit']
    .filter((api) => perItem[api] !== undefined)
    .map((api) => `${api} ${fixed(perItem[api] ?? 0, 2)}`);
  return `${fixed(total, 2)} (${main.join(', ')})`;
}

function failureText(r: BenchRow): string {
  const entries = Object.entries(r.failures);
  return entries.length === 0 ? '0' : entries.map(([what, n]) => `${n} x ${what}`).join('; ');
}

export function markdownTable(report: BenchReport): string {
  const lines = [
    '| case | in flight | per s | p50 ms | p90 ms | p99 ms | CPU s / 1,000 | peak RSS MiB | Kafka requests / lookup | failed |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...report.rows.map(
      (r) =>
        `| ${r.label} | ${r.concurrency} | ${grouped(r.rate)} | ${fixed(r.p50, 2)} | ${fixed(r.p90, 2)} | ` +
        `${fixed(r.p99, 2)} | ${fixed(r.cpuPer1000, 3)} | ${fixed(r.peakRssMiB, 0)} | ${kafkaText(r.kafkaPerItem)} | ` +
        `${failureText(r)} |`,
    ),
    '',
    '| ratio (this run) | value | target | met |',
    '| --- | --- | --- | --- |',
    ...report.ratios.map(
      (r) =>
        `| ${r.name} | ${fixed(r.value, 3)} | ${r.target} | ${r.target === '-' ? '-' : r.met ? 'yes' : 'no'} |`,
    ),
  ];
  return lines.join('\n');
}

export function markdownSection(report: BenchReport): string {
  return [
    DOC_BEGIN,
    '',
    `\`${report.command}\``,
    '',
    `Machine: ${report.machine}. Load average (1, 5, 15 min) before: ${report.loadBefore}; after: ${report.loadAfter}.`,
    `Versions: ${report.versions}.`,
    '',
    markdownTable(report),
    '',
    ...report.notes.map((note) => `- ${note}`),
    '',
    DOC_END,
  ].join('\n');
}

/** Replaces the section between the markers, or adds it under `heading` before the first `## `. */
export async function writeDocSection(file: string, report: BenchReport, heading: string): Promise<void> {
  const doc = await readFile(file, 'utf8');
  const section = markdownSection(report);
  const begin = doc.indexOf(DOC_BEGIN);
  const end = doc.indexOf(DOC_END);
  let updated: string;
  if (begin >= 0 && end > begin) {
    updated = doc.slice(0, begin) + section + doc.slice(end + DOC_END.length);
  } else {
    const at = doc.indexOf('\n## ');
    const block = `${heading}\n\n${section}\n`;
    updated = at < 0 ? `${doc}\n${block}` : `${doc.slice(0, at + 1)}${block}\n${doc.slice(at + 1)}`;
  }
  await writeFile(file, updated);
}
