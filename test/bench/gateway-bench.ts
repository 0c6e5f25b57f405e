/**
 * `npm run bench` (issue 12): every part in its own process on this machine, measured in one run at 1
 * and 32 in flight after a warm-up. The Kafka broker (the test harness's, unless KAFKA_BROKERS is
 * set), the local PostgreSQL (a database per gateway, dropped after), the gateway (bench-gateway.ts:
 * by default the build under plain node, as `npm start` runs it, so `npm run bench` builds first;
 * LOG_LEVEL=info as by default, its log to a file), the sample connectors (bench-connectors.ts) and
 * the load generator (bench-load.ts). Cases: the full lookup over Kafka; over the in-process bus
 * (connectors then run inside the gateway process); over Kafka with the audit recorder a no-op; the
 * batch route (100 per call); the bare kafkajs request-reply loop, one send per message and sends
 * coalesced (bench-kafka-loop.ts); a bare Express 5 route with express.json() (bench-express.ts); and
 * (issue 13) at 1 in flight over Kafka, the same number of evidence bundles of matter SC-0201 (three
 * certificate types from three departments) and single lookups of one of its types, in alternating
 * rounds, with the ratio of their latencies (bench-matter.ts).
 * Prints the table and the ratios, and writes them between the markers in docs/performance.md.
 *
 *   node --import tsx test/bench/gateway-bench.ts [--lookups 5000] [--sequential 1000] [--warmup 500]
 *     [--batches 200] [--batch-sequential 40] [--bundles 500] [--idle-ms 3000] [--gateway-from dist|source]
 *     [--gateway-node-args='--flag=value ...' (Node.js options of the gateway processes)]
 *     [--overlap-startup] [--doc docs/performance.md | --no-doc] [--json file]
 *     [--profile file.cpuprofile [--profile-at 32|1] [--profile-case kafka|in-process]]   (only that
 *     case, by default over Kafka: the gateway's CPU profile at 32 (or 1) in flight, taken with V8's
 *     profiler as node --cpu-prof does, and its summary; see summarise-profile.ts)
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { projectRoot } from '../../gateway/foundation/paths.js';
import { startKafkaBroker } from '../kafka/kafka-broker.js';
import { pinnedKafkaVersion } from '../kafka/kafka-jars.js';
import { adminDatabaseUrl, withAdminClient } from '../support/postgres-harness.js';
import { type GatewaySetup, startGatewaySetup } from './bench-gateway-setup.js';
import { BUNDLE_LOOKUP_TYPE, BUNDLE_MATTER } from './bench-matter.js';
import {
  type BenchChild,
  cpuSeconds,
  type PhaseResult,
  peakRssMiB,
  startBenchChild,
  summarise,
} from './bench-process.js';
import { type BenchReport, type BenchRow, markdownTable, ratiosOf, writeDocSection } from './bench-report.js';
import { summariseProfile } from './summarise-profile.js';

const { values: args } = parseArgs({
  options: {
    lookups: { type: 'string', default: '5000' },
    sequential: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '500' },
    batches: { type: 'string', default: '200' },
    'batch-sequential': { type: 'string', default: '40' },
    bundles: { type: 'string', default: '500' },
    doc: { type: 'string', default: path.join(projectRoot, 'docs', 'performance.md') },
    'no-doc': { type: 'boolean', default: false },
    json: { type: 'string' },
    profile: { type: 'string' },
    'profile-at': { type: 'string', default: '32' },
    'profile-case': { type: 'string', default: 'kafka' },
    'overlap-startup': { type: 'boolean', default: false },
    'gateway-from': { type: 'string', default: 'dist' },
    'gateway-node-args': { type: 'string', default: '' },
    'idle-ms': { type: 'string', default: '3000' },
  },
});
const COUNT = { at32: Number(args.lookups), at1: Number(args.sequential), warmup: Number(args.warmup) };
const BATCHES = { at32: Number(args.batches), at1: Number(args['batch-sequential']) };
const LEVELS = [1, 32] as const;
/** SC-0201 evidence bundles at 1 in flight, and as many single lookups; in ROUNDS alternating rounds. */
const BUNDLES = Number(args.bundles);
const ROUNDS = 5;
const IDLE_MS = Number(args['idle-ms']);
/** CPU seconds per second each gateway case used with nothing to do, by row key. */
const idleCpu: Record<string, number> = {};
/**
 * The slowest of three independent single lookups, from this run's single-lookup latencies: its median
 * is the lookups' 0.5^(1/3) quantile (79th percentile), its p99 their 0.99^(1/3) quantile. What a
 * bundle of 3 would take if its items were independent lookups that cost nothing to run together.
 */
let slowestOfThree: { p50: number; p99: number } | undefined;

interface Measured {
  result: PhaseResult;
  cpu: number;
  kafka: Record<string, number>;
}

/** Runs one phase on `load`, reading `measured`'s CPU and Kafka request counts around it. */
async function phase(
  load: BenchChild,
  measured: BenchChild,
  request: Record<string, unknown>,
  countsFrom: BenchChild | undefined,
): Promise<Measured> {
  const before = await countsFrom?.request({ type: 'kafkaRequests' });
  const cpuBefore = cpuSeconds(measured.pid);
  const answer = await load.request({ type: 'run', ...request });
  const cpu = cpuSeconds(measured.pid) - cpuBefore;
  const after = await countsFrom?.request({ type: 'kafkaRequests' });
  if (answer.type !== 'answer') throw new Error(`${load.name} failed: ${String(answer.error)}`);
  const kafka: Record<string, number> = {};
  const was = (before?.counts ?? {}) as Record<string, number>;
  for (const [api, n] of Object.entries((after?.counts ?? {}) as Record<string, number>)) {
    if (n - (was[api] ?? 0) > 0) kafka[api] = n - (was[api] ?? 0);
  }
  return { result: answer.result as PhaseResult, cpu, kafka };
}

function toRow(key: string, label: string, concurrency: number, m: Measured, pid: number): BenchRow {
  const { result } = m;
  const items = Math.max(result.items, 1);
  return {
    key,
    label,
    concurrency,
    rate: result.items / result.seconds,
    ...result.latency,
    cpuPer1000: (m.cpu / items) * 1000,
    peakRssMiB: peakRssMiB(pid),
    kafkaPerItem: Object.fromEntries(Object.entries(m.kafka).map(([api, n]) => [api, n / items])),
    items: result.items,
    failures: result.failures,
  };
}

const cleanups: Array<() => Promise<unknown>> = [];
const register = (cleanup: () => Promise<unknown>) => {
  cleanups.push(cleanup);
};
const from = args['gateway-from'] === 'source' ? 'source' : 'dist';
/** Node.js options of every gateway process (e.g. `--gateway-node-args=--max-old-space-size=128`). */
const nodeArgs = args['gateway-node-args'].split(/\s+/).filter(Boolean);
async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
}

async function gatewayCase(
  rows: BenchRow[],
  key: string,
  label: string,
  setup: Promise<GatewaySetup>,
  options: { kafka: boolean; batch?: boolean; bundle?: boolean; profileFile?: string },
): Promise<void> {
  const { gateway, url, token, stop } = await setup;
  const load = startBenchChild('load generator', 'bench-load.ts', { args: [url] });
  try {
    await load.ready;
    const counts = options.kafka ? gateway : undefined;
    await load.request({
      type: 'run',
      kind: 'lookup',
      count: COUNT.warmup,
      concurrency: 32,
      token: await token(),
    });
    await load.request({ type: 'run', kind: 'lookup', count: 100, concurrency: 1, token: await token() });
    // With no lookups at all, the gateway still polls Kafka and writes heartbeats: its floor.
    const idleBefore = cpuSeconds(gateway.pid);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    idleCpu[key] = (cpuSeconds(gateway.pid) - idleBefore) / (IDLE_MS / 1000);
    for (const concurrency of LEVELS) {
      const count = concurrency === 1 ? COUNT.at1 : COUNT.at32;
      const profiled = options.profileFile && concurrency === Number(args['profile-at']);
      if (profiled) await gateway.request({ type: 'profileStart' });
      const m = await phase(
        load,
        gateway,
        { kind: 'lookup', count, concurrency, token: await token() },
        counts,
      );
      if (profiled) await gateway.request({ type: 'profileStop', file: options.profileFile });
      rows.push(toRow(key, label, concurrency, m, gateway.pid));
      report(rows.at(-1));
    }
    if (options.batch) {
      await load.request({ type: 'run', kind: 'batch', count: 8, concurrency: 8, token: await token() });
      for (const concurrency of LEVELS) {
        const count = concurrency === 1 ? BATCHES.at1 : BATCHES.at32;
        const m = await phase(
          load,
          gateway,
          { kind: 'batch', count, concurrency, token: await token() },
          counts,
        );
        rows.push(toRow('batch', 'batch route, 100 per call, over Kafka', concurrency, m, gateway.pid));
        report(rows.at(-1));
      }
    }
    if (options.bundle) await bundleCase(rows, load, gateway, token, counts);
  } finally {
    await load.stop();
    await stop();
  }
}

const BUNDLE_LABELS = {
  'matter-lookup': `${BUNDLE_MATTER}: one lookup (${BUNDLE_LOOKUP_TYPE}), over Kafka`,
  bundle: `${BUNDLE_MATTER}: evidence bundle of 3 (three departments), over Kafka`,
} as const;

/**
 * Issue 13: BUNDLES evidence bundles of SC-0201 and as many single lookups of one of its types, at 1
 * in flight, in ROUNDS alternating rounds (lookups, then bundles) so that a change in the machine's
 * load while they run falls on both; each kind's rounds are merged into one row.
 */
async function bundleCase(
  rows: BenchRow[],
  load: BenchChild,
  gateway: BenchChild,
  token: () => Promise<string>,
  counts: BenchChild | undefined,
): Promise<void> {
  const kinds = ['matter-lookup', 'bundle'] as const;
  const warmup = Math.max(5, Math.min(50, Math.round(BUNDLES / 10)));
  for (const kind of kinds) {
    await load.request({ type: 'run', kind, count: warmup, concurrency: 1, token: await token() });
  }
  const merged = Object.fromEntries(kinds.map((kind) => [kind, [] as Measured[]])) as Record<
    (typeof kinds)[number],
    Measured[]
  >;
  const rounds = Math.max(1, Math.min(ROUNDS, BUNDLES));
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    const count = Math.round((BUNDLES * (round + 1)) / rounds) - done;
    for (const kind of kinds) {
      const request = { kind, count, concurrency: 1, token: await token(), samples: true, offset: done };
      merged[kind].push(await phase(load, gateway, request, counts));
    }
    done += count;
  }
  for (const kind of kinds) {
    rows.push(toRow(kind, BUNDLE_LABELS[kind], 1, mergeMeasured(merged[kind]), gateway.pid));
    report(rows.at(-1));
  }
  const lookups = merged['matter-lookup'].flatMap((part) => part.result.samples ?? []).sort((a, b) => a - b);
  const quantile = (q: number) =>
    lookups[Math.min(lookups.length - 1, Math.floor(q * lookups.length))] ?? Number.NaN;
  slowestOfThree = { p50: quantile(0.5 ** (1 / 3)), p99: quantile(0.99 ** (1 / 3)) };
  process.stderr.write(
    `  slowest of three independent single lookups: p50 ${slowestOfThree.p50.toFixed(2)} ` +
      `p99 ${slowestOfThree.p99.toFixed(2)} ms\n`,
  );
}

/** One phase's worth of several: counts, seconds, CPU and Kafka requests added, latencies pooled. */
function mergeMeasured(parts: Measured[]): Measured {
  const samples = parts.flatMap((part) => part.result.samples ?? []);
  const failures: Record<string, number> = {};
  const kafka: Record<string, number> = {};
  for (const part of parts) {
    for (const [what, n] of Object.entries(part.result.failures)) failures[what] = (failures[what] ?? 0) + n;
    for (const [api, n] of Object.entries(part.kafka)) kafka[api] = (kafka[api] ?? 0) + n;
  }
  const sum = (f: (part: Measured) => number) => parts.reduce((total, part) => total + f(part), 0);
  return {
    result: {
      requests: sum((part) => part.result.requests),
      items: sum((part) => part.result.items),
      failures,
      seconds: sum((part) => part.result.seconds),
      latency: summarise(samples),
    },
    cpu: sum((part) => part.cpu),
    kafka,
  };
}

async function kafkaLoopCase(
  rows: BenchRow[],
  brokers: string,
  mode: 'one-send' | 'coalesced',
): Promise<void> {
  const prefix = `bench-loop-${randomBytes(3).toString('hex')}`;
  const kafka = new Kafka({ clientId: prefix, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic: `${prefix}.requests` }, { topic: `${prefix}.replies` }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  const responder = startBenchChild('loop responder', 'bench-kafka-loop.ts', {
    args: ['responder', brokers, prefix, mode],
  });
  const requester = startBenchChild('loop requester', 'bench-kafka-loop.ts', {
    args: ['requester', brokers, prefix, mode],
  });
  try {
    await Promise.all([responder.ready, requester.ready]);
    await requester.request({ type: 'run', count: COUNT.warmup, concurrency: 32 });
    await requester.request({ type: 'run', count: 100, concurrency: 1 });
    const label =
      mode === 'one-send' ? 'bare kafkajs loop, one send per message' : 'bare kafkajs loop, sends coalesced';
    for (const concurrency of LEVELS) {
      const count = concurrency === 1 ? COUNT.at1 : COUNT.at32;
      const m = await phase(requester, requester, { count, concurrency }, requester);
      rows.push(toRow(`loop-${mode}`, label, concurrency, m, requester.pid));
      report(rows.at(-1));
    }
  } finally {
    await requester.stop();
    await responder.stop();
  }
}

async function expressCase(rows: BenchRow[]): Promise<void> {
  const server = startBenchChild('bare Express', 'bench-express.ts');
  const { url } = await server.ready;
  const load = startBenchChild('load generator', 'bench-load.ts', { args: [String(url)] });
  try {
    await load.ready;
    await load.request({ type: 'run', kind: 'echo', count: COUNT.warmup * 2, concurrency: 32 });
    for (const concurrency of LEVELS) {
      const count = concurrency === 1 ? COUNT.at1 : COUNT.at32 * 2;
      const m = await phase(load, server, { kind: 'echo', count, concurrency }, undefined);
      rows.push(toRow('express', 'bare Express 5 route, express.json()', concurrency, m, server.pid));
      report(rows.at(-1));
    }
  } finally {
    await load.stop();
    await server.stop();
  }
}

function report(row: BenchRow | undefined): void {
  if (!row) return;
  const failed = Object.values(row.failures).reduce((sum, n) => sum + n, 0);
  process.stderr.write(
    `  ${row.label} @${row.concurrency}: ${row.rate.toFixed(0)}/s p50 ${row.p50.toFixed(2)} p99 ` +
      `${row.p99.toFixed(2)} ms, CPU ${row.cpuPer1000.toFixed(3)} s/1000${failed ? `, ${failed} failed` : ''}\n`,
  );
}

function packageVersion(name: string): string {
  return (
    JSON.parse(readFileSync(path.join(projectRoot, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
}

async function describeVersions(external: boolean): Promise<string> {
  const postgres = await withAdminClient(adminDatabaseUrl(), (client) =>
    client.query<{ server_version: string }>('SHOW server_version'),
  ).then(({ rows }) => rows[0]?.server_version ?? '?');
  const kafka = external ? 'external broker (KAFKA_BROKERS)' : await pinnedKafkaVersion();
  return (
    `Node.js ${process.version}, Kafka ${kafka}, PostgreSQL ${postgres}, kafkajs ${packageVersion('kafkajs')}, ` +
    `Express ${packageVersion('express')}, pg ${packageVersion('pg')}`
  );
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(', ');
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  const external = process.env.KAFKA_BROKERS?.trim();
  // Profiling the in-process case is the one run that needs no broker.
  const needsBroker = !(args.profile && args['profile-case'] === 'in-process');
  if (needsBroker) {
    process.stderr.write(
      external ? `Kafka: ${external} (KAFKA_BROKERS)\n` : 'Starting the Kafka broker...\n',
    );
  }
  const broker = external || !needsBroker ? undefined : await startKafkaBroker();
  if (broker) cleanups.push(() => broker.stop());
  const brokers = external ?? broker?.brokers.join(',') ?? '';
  const rows: BenchRow[] = [];

  if (args.profile) {
    const file = path.resolve(args.profile);
    const kafka = needsBroker;
    const setup = startGatewaySetup(kafka ? { brokers, from, nodeArgs } : { from, nodeArgs }, register);
    const at = args['profile-at'];
    const label = `full lookup ${kafka ? 'over Kafka' : 'in-process bus'} (gateway profiled at ${at} in flight)`;
    await gatewayCase(rows, kafka ? 'kafka' : 'in-process', label, setup, { kafka, profileFile: file });
    console.log(`Profile of the gateway process at ${at} in flight: ${file}\n`);
    console.log(summariseProfile(JSON.parse(readFileSync(file, 'utf8'))));
    return;
  }

  process.stderr.write('Measuring (each case: warm-up, then 1 and 32 in flight)...\n');
  // Each gateway starts just before its case, so none runs while another is measured, unless
  // --overlap-startup (the CI smoke: quicker, and its numbers are not looked at) starts all at once.
  const setups: Record<'kafka' | 'inProcess' | 'auditOff', () => Promise<GatewaySetup>> = {
    kafka: () => startGatewaySetup({ brokers, from, nodeArgs }, register),
    inProcess: () => startGatewaySetup({ from, nodeArgs }, register),
    auditOff: () => startGatewaySetup({ brokers, auditOff: true, from, nodeArgs }, register),
  };
  if (args['overlap-startup']) {
    for (const name of ['kafka', 'inProcess', 'auditOff'] as const) {
      const started = setups[name]();
      started.catch(() => {});
      setups[name] = () => started;
    }
  }
  await gatewayCase(rows, 'kafka', 'full lookup over Kafka', setups.kafka(), {
    kafka: true,
    batch: true,
    bundle: true,
  });
  await gatewayCase(
    rows,
    'in-process',
    'full lookup, in-process bus (connectors in the gateway process)',
    setups.inProcess(),
    { kafka: false },
  );
  await gatewayCase(
    rows,
    'kafka-audit-off',
    'full lookup over Kafka, audit recorder a no-op',
    setups.auditOff(),
    {
      kafka: true,
    },
  );
  await kafkaLoopCase(rows, brokers, 'one-send');
  await kafkaLoopCase(rows, brokers, 'coalesced');
  await expressCase(rows);

  const cpus = os.cpus();
  const bench: BenchReport = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
    machine: `${cpus.length} x ${cpus[0]?.model ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
    loadBefore,
    loadAfter: loadAverage(),
    versions: await describeVersions(Boolean(external)),
    rows,
    ratios: ratiosOf(rows),
    notes: [
      `Counts: ${COUNT.at1} lookups at 1 in flight and ${COUNT.at32} at 32, after a warm-up of ${COUNT.warmup} ` +
        `(batch route: ${BATCHES.at1} and ${BATCHES.at32} calls of 100; bare Express: twice the lookups at 32).`,
      '"per s" counts lookups answered 200 (batch route: items; bare loop: round trips); latencies are per call ' +
        '(batch route: per call of 100), measured in the load generator process.',
      "CPU and peak RSS are the gateway process's (/proc/<pid>/stat utime+stime over the phase; VmHWM, the " +
        'peak since the process started, so the batch rows include the single lookups before them); for the bare ' +
        "loop, the requester process's (a produce and a fetch per round trip, as the gateway has); for bare " +
        "Express, the server's.",
      'Kafka requests per lookup: every request the gateway process (bare loop: the requester) sent to the ' +
        "broker during the phase, counted by wrapping kafkajs's Connection.send in that process " +
        "(kafka-request-counter.ts), divided by lookups answered; the connectors' own requests are not included.",
      `${BUNDLE_MATTER} rows (issue 13): ${BUNDLES} evidence bundles and ${BUNDLES} single lookups of ` +
        `${BUNDLE_LOOKUP_TYPE} (one of the matter's three types), 1 in flight over Kafka, the same gateway as ` +
        `the first rows, in ${Math.max(1, Math.min(ROUNDS, BUNDLES))} alternating rounds after a warm-up; ` +
        'the applicants are seed subjects every item finds. A bundle counts when all three items are found; ' +
        'its "per s", CPU and Kafka requests are per bundle (three lookups), its latency per call.' +
        (slowestOfThree
          ? ` For reference, the slowest of three independent single lookups of this run would have a p50 of ` +
            `${slowestOfThree.p50.toFixed(2)} ms and a p99 of ${slowestOfThree.p99.toFixed(2)} ms (the single ` +
            "lookups' 79th and 99.67th percentiles), what a bundle would take if running its items together " +
            'cost nothing; what the bundle takes beyond that is the cost of running them together.'
          : ''),
      `Gateway CPU with nothing to do (${IDLE_MS / 1000} s after the warm-up, no lookups): ${Object.entries(
        idleCpu,
      )
        .map(([key, v]) => `${key} ${(v * 1000).toFixed(0)} ms per s`)
        .join(', ')}; at 1 in flight this floor is a large part of the CPU per lookup.`,
      (from === 'dist'
        ? 'The gateway is the build (dist/, what `npm start` runs) under plain node'
        : 'The gateway is the sources under tsx, whose loader thread adds about 60 MiB to its RSS') +
        (nodeArgs.length > 0 ? ` with ${nodeArgs.join(' ')}` : '') +
        '; it runs with LOG_LEVEL=info (the default: one log line per request), its log to a file; ' +
        'the in-process row runs the sample connectors inside the gateway process, so its CPU includes theirs.',
    ],
  };
  const table = markdownTable(bench);
  console.log(`\n${table}\n`);
  console.log(`Machine: ${bench.machine}; load average before ${loadBefore}, after ${bench.loadAfter}`);
  console.log(`Versions: ${bench.versions}`);
  if (!args['no-doc']) {
    await writeDocSection(args.doc, bench, '## Separate-process benchmark (`npm run bench`)');
    console.log(`Written to ${path.relative(process.cwd(), args.doc)}.`);
  }
  if (args.json) await writeFile(args.json, JSON.stringify(bench, null, 2));
}

try {
  await main();
} finally {
  await cleanUp();
}
