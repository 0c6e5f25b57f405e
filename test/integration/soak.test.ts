/**
 * Soak: the gateway as its own process (dist/gateway/main.js) on PostgreSQL and real Kafka, with two
 * `silobridge connector` processes (public-security, market-regulation). First the maximum: callers in
 * a loop (SOAK_CALLERS, default 16) for SOAK_MAX_SECONDS (default 10); then half of it, open loop at a
 * fixed rate, for SOAK_SECONDS (default 60 in CI; `SOAK_SECONDS=600` for the full run), or at
 * SOAK_RATE lookups a second without measuring the maximum. Every lookup must answer 200 with the
 * record asked for, and the gateway's heap, resident memory and open file descriptors must not grow
 * beyond the tolerances below between the first and the last fifth of the run (after a warm-up).
 * The heap is read after a full collection (the gateway runs with --expose-gc and collects on
 * SIGUSR2, a hook of this test only): read between collections, it is mostly garbage waiting for
 * the next one, and two readings a minute apart differed by 30 MB with nothing leaking (a CI run).
 *
 *   SOAK_SECONDS=600 npx vitest run --project integration test/integration/soak.test.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { projectRoot } from '../../gateway/foundation/paths.js';
import { type ConnectorProcess, startConnectorProcess } from '../support/connector-process.js';
import { demoToken, writeTestPolicy } from '../support/gateway-auth.js';
import { type GatewayProcess, gatewayEntry, startGatewayProcess } from '../support/gateway-process.js';
import { lookupBody } from '../support/lookup-fixtures.js';
import { type LookupSample, percentile, runLoad, runPaced } from '../support/lookup-load.js';
import { median, readUsage, slopePerMinute, type Usage } from '../support/process-usage.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const positive = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!(value > 0)) throw new Error(`${name} must be a positive number, not '${process.env[name]}'`);
  return value;
};
const SOAK_SECONDS = positive('SOAK_SECONDS', 60);
const MAX_SECONDS = positive('SOAK_MAX_SECONDS', 10);
const CALLERS = positive('SOAK_CALLERS', 16);
const GIVEN_RATE = process.env.SOAK_RATE ? positive('SOAK_RATE', 1) : undefined;
const SAMPLE_EVERY_MS = 2000;
/** Preloaded into the gateway: a full garbage collection on SIGUSR2 (needs --expose-gc). */
const COLLECT_ON_SIGNAL = "data:text/javascript,process.on('SIGUSR2',()=>globalThis.gc())";
const TYPES = ['resident-id-card', 'business-licence'];

/**
 * Growth allowed between the medians of the first and the last fifth of the soak (after a warm-up
 * of a fifth, at least 10 s): V8 sizes its heap to the load for a while, and allocators keep pages.
 */
const TOLERANCE = {
  heapBytes: (first: number) => first * 0.25 + 16 * 2 ** 20,
  rssBytes: (first: number) => first * 0.15 + 32 * 2 ** 20,
  fds: 8,
};

const prefix = `soak-${randomBytes(4).toString('hex')}`;
let database: TestDatabase;
let dataDir: string;
let gateway: GatewayProcess;
const connectors: ConnectorProcess[] = [];
let token: { value: string; at: number } | undefined;
/** The gateway's error and fatal log lines; the others are dropped as they come (a line per request). */
const errorLines: Array<Record<string, unknown>> = [];

function keepErrorLines() {
  for (const line of gateway.logs.splice(0))
    if (['error', 'fatal', 50, 60].includes(line.level as string | number)) errorLines.push(line);
}

async function currentToken(): Promise<string> {
  if (!token || performance.now() - token.at > 120_000)
    token = { value: await demoToken(dataDir), at: performance.now() };
  return token.value;
}

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-soak-'));
  await writeTestPolicy(dataDir);
  const kafka = { KAFKA_BROKERS: inject('kafkaBrokers'), SILOBRIDGE_TOPIC_PREFIX: prefix };
  gateway = await startGatewayProcess(
    {
      ...kafka,
      DATABASE_URL: database.url,
      SILOBRIDGE_DATA_DIR: dataDir,
      SILOBRIDGE_POLICIES_DIR: dataDir,
      SILOBRIDGE_DEMO_IDENTITIES: 'true',
      SILOBRIDGE_INSTANCE_ID: `${prefix}-gw`,
    },
    { args: ['--expose-gc', `--import=${COLLECT_ON_SIGNAL}`, gatewayEntry], cwd: projectRoot },
  );
  for (const department of ['public-security', 'market-regulation'])
    connectors.push(
      startConnectorProcess({ department, instanceId: `${department}-soak`, dataDir, env: kafka }),
    );
  for (const type of TYPES) {
    await vi.waitFor(
      async () => {
        const response = await fetch(`${gateway.url}/v1/lookups`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await currentToken()}` },
          body: JSON.stringify(lookupBody(type)),
        });
        expect(response.status, connectors.map((c) => c.output()).join('\n')).toBe(200);
      },
      { timeout: 60_000, interval: 250 },
    );
  }
}, 180_000);

afterAll(async () => {
  for (const connector of connectors) await connector.stop(5000);
  await gateway?.stop();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function describeLatency(samples: LookupSample[]): string {
  const ms = samples.map((s) => s.ms);
  return `p50 ${percentile(ms, 50).toFixed(0)} ms, p95 ${percentile(ms, 95).toFixed(0)} ms, p99 ${percentile(ms, 99).toFixed(0)} ms, max ${Math.max(...ms).toFixed(0)} ms`;
}

describe('soak', () => {
  it(
    `half the maximum load for ${SOAK_SECONDS} s: no error, no growth of heap, memory or file descriptors`,
    async () => {
      const pid = gateway.child.pid as number;
      const metricsUrl = `${gateway.url}/metrics`;
      /** The gateway's usage, its heap measured just after a full collection. */
      const readCollected = async () => {
        process.kill(pid, 'SIGUSR2');
        await delay(100);
        return readUsage(pid, metricsUrl);
      };

      let rate = GIVEN_RATE;
      if (rate === undefined) {
        // Warm up, then callers in a loop: what the gateway completes per second is the maximum.
        let running = true;
        let counting = false;
        let completed = 0;
        const load = runLoad({
          url: gateway.url,
          token: currentToken,
          callers: Array.from({ length: CALLERS }, (_, i) => TYPES[i % TYPES.length] as string),
          running: () => running,
          onSample: (sample) => {
            if (counting && sample.status === 200) completed += 1;
          },
        });
        await delay(3000);
        counting = true;
        const from = performance.now();
        await delay(MAX_SECONDS * 1000);
        counting = false;
        const maximum = completed / ((performance.now() - from) / 1000);
        running = false;
        const samples = await load;
        console.info(
          `[soak] maximum: ${maximum.toFixed(0)} lookups/s with ${CALLERS} callers in a loop (${describeLatency(samples)}; ${samples.filter((s) => s.status !== 200).length} not 200)`,
        );
        expect(samples.filter((s) => s.mismatch)).toEqual([]);
        rate = Math.max(1, Math.floor(maximum / 2));
      }

      const usage: Usage[] = [];
      const sampler = setInterval(() => {
        keepErrorLines();
        void readCollected().then((reading) => usage.push(reading));
      }, SAMPLE_EVERY_MS);
      const startedAt = performance.now();
      let result: Awaited<ReturnType<typeof runPaced>>;
      try {
        usage.push(await readCollected());
        result = await runPaced({
          url: gateway.url,
          token: currentToken,
          certificateTypes: TYPES,
          ratePerSecond: rate,
          durationMs: SOAK_SECONDS * 1000,
        });
      } finally {
        clearInterval(sampler);
      }
      const elapsed = (performance.now() - startedAt) / 1000;
      usage.push(await readCollected());
      const { samples, shed } = result;
      const failed = samples.filter((s) => s.status !== 200);
      const byProblem = new Map<string, number>();
      for (const s of failed)
        byProblem.set(`${s.status} ${s.problem}`, (byProblem.get(`${s.status} ${s.problem}`) ?? 0) + 1);

      const span = SOAK_SECONDS * 1000;
      const warmUp = Math.max(10_000, span / 5);
      const window = span / 5;
      const firstWindow = usage.filter(
        (u) => u.at - startedAt >= warmUp && u.at - startedAt < warmUp + window,
      );
      const lastWindow = usage.filter((u) => u.at - startedAt >= span - window);
      const settled = usage.filter((u) => u.at - startedAt >= warmUp);
      const heap = (list: Usage[]) => list.flatMap((u) => (u.heapUsedBytes ? [u.heapUsedBytes] : []));
      const rss = (list: Usage[]) => list.map((u) => u.rssBytes);
      const fds = (list: Usage[]) => list.map((u) => u.fds);
      const first = {
        heap: median(heap(firstWindow)),
        rss: median(rss(firstWindow)),
        fds: Math.max(...fds(firstWindow)),
      };
      const last = {
        heap: median(heap(lastWindow)),
        rss: median(rss(lastWindow)),
        fds: Math.max(...fds(lastWindow)),
      };
      const times = settled.map((u) => u.at);
      const connectorRss = await Promise.all(
        connectors.map(
          async (c) => `${c.department} ${mb((await readUsage(c.child.pid as number)).rssBytes)} MB`,
        ),
      );

      console.info(
        `[soak] ${samples.length} lookups in ${elapsed.toFixed(0)} s at ${rate} lookups/s (${(samples.length / elapsed).toFixed(1)}/s achieved), ${failed.length} not 200 ${JSON.stringify(Object.fromEntries(byProblem))}, ${shed} shed; ${describeLatency(samples)}`,
      );
      console.info(
        `[soak] gateway pid ${pid}: heap after a full collection ${mb(first.heap)} -> ${mb(last.heap)} MB (slope ${mb(slopePerMinute(times, heap(settled)))} MB/min), ` +
          `RSS ${mb(first.rss)} -> ${mb(last.rss)} MB (slope ${mb(slopePerMinute(times, rss(settled)))} MB/min, peak ${mb(Math.max(...rss(usage)))} MB), ` +
          `fds other than sockets ${first.fds} -> ${last.fds} (max ${Math.max(...fds(usage))}), sockets ${usage[0]?.sockets} -> ${usage.at(-1)?.sockets} (max ${Math.max(...usage.map((u) => u.sockets))}); ${usage.length} readings, medians of the first and last fifth after a ${(warmUp / 1000).toFixed(0)} s warm-up; connectors' RSS at the end: ${connectorRss.join(', ')}`,
      );

      expect(samples.filter((s) => s.mismatch).map((s) => s.mismatch)).toEqual([]);
      expect([...byProblem.entries()]).toEqual([]);
      expect(shed).toBe(0);
      expect(samples.length).toBeGreaterThan(rate * SOAK_SECONDS * 0.9);
      keepErrorLines();
      expect(errorLines).toEqual([]);
      expect(firstWindow.length).toBeGreaterThan(1);
      expect(lastWindow.length).toBeGreaterThan(1);
      expect(last.heap - first.heap).toBeLessThan(TOLERANCE.heapBytes(first.heap));
      expect(last.rss - first.rss).toBeLessThan(TOLERANCE.rssBytes(first.rss));
      expect(last.fds - first.fds).toBeLessThanOrEqual(TOLERANCE.fds);
    },
    (SOAK_SECONDS + MAX_SECONDS + 120) * 1000,
  );
});
