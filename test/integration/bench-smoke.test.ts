/**
 * `npm run bench` in miniature (issue 12): the separate-process benchmark runs with tiny counts against
 * the run's broker and PostgreSQL, and must produce every row (each case at 1 and 32 in flight, every
 * lookup answered; SC-0201's evidence bundles and single lookups at 1 in flight, every bundle with all
 * three items found) and every ratio as a number. The numbers themselves are not checked: CI's machine
 * is busy and the counts too small; the targets are for the full run on a quiet machine.
 */
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../gateway/foundation/paths.js';
import { type BenchReport, DOC_BEGIN, DOC_END, writeDocSection } from '../bench/bench-report.js';
import { runNode } from '../support/child-process.js';

const ROWS = [
  'kafka',
  'batch',
  'in-process',
  'kafka-audit-off',
  'loop-one-send',
  'loop-coalesced',
  'express',
];
/** Issue 13's case: measured at 1 in flight only. */
const BUNDLE_ROWS = ['matter-lookup', 'bundle'];
const BUNDLES = 10;
const dir = await mkdtemp(path.join(os.tmpdir(), 'silobridge-bench-smoke-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('npm run bench, with tiny counts', () => {
  it('measures every case at 1 and 32 in flight, writes the ratios, and updates its doc section', {
    timeout: 240_000,
  }, async () => {
    const json = path.join(dir, 'bench.json');
    const doc = path.join(dir, 'performance.md');
    await copyFile(path.join(projectRoot, 'docs', 'performance.md'), doc);
    const run = await runNode(
      [
        '--import',
        'tsx',
        'test/bench/gateway-bench.ts',
        ...['--lookups', '40', '--sequential', '10', '--warmup', '20'],
        ...[
          '--batches',
          '4',
          '--batch-sequential',
          '2',
          '--bundles',
          String(BUNDLES),
          '--overlap-startup',
          '--idle-ms',
          '300',
          '--doc',
          doc,
          '--json',
          json,
        ],
      ],
      {
        cwd: projectRoot,
        env: {
          ...(process.env as Record<string, string>),
          KAFKA_BROKERS: inject('kafkaBrokers'),
          DATABASE_URL: inject('postgresAdminUrl'),
        },
      },
    );
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const report = JSON.parse(await readFile(json, 'utf8')) as BenchReport;

    expect(report.rows.map((row) => `${row.key}@${row.concurrency}`).sort()).toEqual(
      [...ROWS.flatMap((key) => [`${key}@1`, `${key}@32`]), ...BUNDLE_ROWS.map((key) => `${key}@1`)].sort(),
    );
    for (const row of report.rows) {
      expect(row.failures, row.label).toEqual({});
      expect(row.items, row.label).toBeGreaterThan(0);
      expect(row.rate, row.label).toBeGreaterThan(0);
      expect(row.p50, row.label).toBeLessThanOrEqual(row.p99);
      expect(Number.isFinite(row.cpuPer1000), row.label).toBe(true);
      expect(row.peakRssMiB, row.label).toBeGreaterThan(10);
      // Kafka's rows count the requests the measured process sent; the others send none.
      const usesKafka = !['in-process', 'express'].includes(row.key);
      expect((row.kafkaPerItem.Produce ?? 0) > 0, row.label).toBe(usesKafka);
    }
    // Every bundle counted had its three items found; as many single lookups ran, all answered.
    for (const key of BUNDLE_ROWS) {
      const row = report.rows.find((r) => r.key === key);
      expect(row?.items, key).toBe(BUNDLES);
      expect(row?.failures, key).toEqual({});
    }
    expect(report.ratios).toHaveLength(9);
    for (const ratio of report.ratios) expect(Number.isFinite(ratio.value), ratio.name).toBe(true);
    const bundleRatios = report.ratios.filter((ratio) => ratio.name.startsWith('SC-0201 evidence bundle'));
    expect(bundleRatios.map((ratio) => ratio.target)).toEqual(['<= 1.5', '<= 1.5']);
    expect(report.versions).toMatch(/Node\.js v\d+.*PostgreSQL \d+.*kafkajs \d/);

    // The doc holds one section, between the markers, and a rerun replaces it rather than adding one.
    await writeDocSection(doc, report, '## Separate-process benchmark (`npm run bench`)');
    const text = await readFile(doc, 'utf8');
    expect(text.split(DOC_BEGIN)).toHaveLength(2);
    expect(text.split(DOC_END)).toHaveLength(2);
    const section = text.slice(text.indexOf(DOC_BEGIN), text.indexOf(DOC_END));
    expect(section).toContain('| full lookup over Kafka | 32 |');
    expect(section).toContain('| bare Express 5 route, express.json() | 1 |');
    expect(section).toContain('audit on / audit off');
    expect(section).toContain('| SC-0201: evidence bundle of 3 (three departments), over Kafka | 1 |');
    expect(section).toContain('SC-0201 evidence bundle of 3 / one lookup of its types, p50 at 1 in flight');
  });
});
