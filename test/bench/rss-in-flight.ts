/**
 * Issue 12's memory target: the gateway process's peak RSS with 1,000 lookups in flight, over Kafka
 * with PostgreSQL, every part in its own process as in `npm run bench` (bench-gateway-setup.ts: a
 * fresh gateway, database and topics; the sample connectors; the load generator, here with a socket
 * per lookup in flight). After a warm-up at 32 in flight and one round of `--in-flight` lookups at
 * once (which opens the load generator's connections), the connectors hold every request for
 * `--hold-ms` before answering it (bench-connectors.ts: off the partition, so they hold as many as
 * arrive), and the load generator keeps `--in-flight` lookups open until `--count` are answered: for
 * most of the phase the gateway has that many lookups waiting for the departments' replies at once.
 * The hold stays under the lookup deadline (SILOBRIDGE_LOOKUP_TIMEOUT_MS, 5 s), and the gateway runs
 * with the default per-department bound (SILOBRIDGE_MAX_IN_FLIGHT_PER_DEPARTMENT 1,000; the load
 * spreads over five certificate types of four departments, at most 400 to one).
 * Every 100 ms the orchestrator reads the gateway's VmRSS (/proc/<pid>/status) and the connectors'
 * held requests; it prints the peak RSS (VmHWM, the kernel's high-water mark, and the largest
 * VmRSS sample, with the requests held when it was taken), the lookups answered and the failures.
 *   node --import tsx test/bench/rss-in-flight.ts [--in-flight 1000] [--count 4000] [--hold-ms 3000]
 *     [--warmup 500] [--gateway-from dist (npm run build first)|source]
 *     [--gateway-node-args='--flag=value ...' (the gateway process's Node.js options)] [--json file]
 * The Kafka broker is the test harness's unless KAFKA_BROKERS is set; PostgreSQL is DATABASE_URL's
 * server (default postgres://postgres@127.0.0.1:5432/test).
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { startKafkaBroker } from '../kafka/kafka-broker.js';
import { startGatewaySetup } from './bench-gateway-setup.js';
import { type BenchChild, cpuSeconds, type PhaseResult, startBenchChild } from './bench-process.js';

const { values: args } = parseArgs({
  options: {
    'in-flight': { type: 'string', default: '1000' },
    count: { type: 'string', default: '4000' },
    'hold-ms': { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '500' },
    'gateway-from': { type: 'string', default: 'dist' },
    'gateway-node-args': { type: 'string', default: '' },
    json: { type: 'string' },
  },
});
const IN_FLIGHT = Number(args['in-flight']);
const COUNT = Math.max(Number(args.count), IN_FLIGHT);
const HOLD_MS = Number(args['hold-ms']);
const WARMUP = Number(args.warmup);
const from = args['gateway-from'] === 'source' ? 'source' : 'dist';

/** VmRSS and VmHWM of a process, MiB. */
function memoryMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1]) / 1024;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

interface Sample {
  ms: number;
  rss: number;
  held: number;
  /** The gateway's own process.memoryUsage(), MiB (answered when its event loop gets to it). */
  heapUsed: number;
  heapTotal: number;
  external: number;
}

async function measure(gateway: BenchChild, connectors: BenchChild, load: BenchChild, token: string) {
  const samples: Sample[] = [];
  let running = true;
  const started = performance.now();
  const sampling = (async () => {
    while (running) {
      const ms = performance.now() - started;
      const rss = memoryMiB(gateway.pid).rss;
      const [{ held }, usage] = (await Promise.all([
        connectors.request({ type: 'held' }),
        gateway.request({ type: 'memory' }),
      ])) as unknown as [{ held: number }, NodeJS.MemoryUsage];
      const mib = (bytes: number) => bytes / 2 ** 20;
      samples.push({
        ms,
        rss,
        held,
        heapUsed: mib(usage.heapUsed),
        heapTotal: mib(usage.heapTotal),
        external: mib(usage.external),
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const answer = await load.request({
    type: 'run',
    kind: 'lookup',
    count: COUNT,
    concurrency: IN_FLIGHT,
    token,
  });
  running = false;
  await sampling;
  if (answer.type !== 'answer') throw new Error(`load generator failed: ${String(answer.error)}`);
  return { result: answer.result as PhaseResult, samples };
}

async function main(): Promise<void> {
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const external = process.env.KAFKA_BROKERS?.trim();
    const broker = external ? undefined : await startKafkaBroker();
    if (broker) cleanups.push(() => broker.stop());
    const brokers = external ?? broker?.brokers.join(',') ?? '';
    const setup = await startGatewaySetup(
      {
        brokers,
        from,
        nodeArgs: args['gateway-node-args'].split(/\s+/).filter(Boolean),
        env: { SILOBRIDGE_MAX_IN_FLIGHT_PER_DEPARTMENT: '1000' },
      },
      (cleanup) => cleanups.push(cleanup),
    );
    const { gateway, connectors, url } = setup;
    if (!connectors) throw new Error('no connectors process');
    const load = startBenchChild('load generator', 'bench-load.ts', { args: [url, String(IN_FLIGHT + 16)] });
    cleanups.push(() => load.stop());
    await load.ready;
    const afterStart = memoryMiB(gateway.pid);
    process.stderr.write(`gateway started (${from}): RSS ${afterStart.rss.toFixed(0)} MiB\n`);
    const warm = await load.request({
      type: 'run',
      kind: 'lookup',
      count: WARMUP,
      concurrency: 32,
      token: await setup.token(),
    });
    const warmFailed = Object.values((warm.result as PhaseResult).failures).reduce((a, b) => a + b, 0);
    const afterWarmup = memoryMiB(gateway.pid);
    process.stderr.write(
      `after ${WARMUP} lookups at 32 in flight (${warmFailed} failed): RSS ${afterWarmup.rss.toFixed(0)}, ` +
        `peak ${afterWarmup.hwm.toFixed(0)} MiB\n`,
    );

    // Open the load generator's sockets before the phase: 1,000 connections at once overflow the
    // gateway's listen backlog (Node's default, 511), and the refused ones would come in over seconds
    // (SYN retries after 1, 3, 7 s), so the phase would not start with all its lookups in flight.
    const open = await load.request({
      type: 'run',
      kind: 'lookup',
      count: IN_FLIGHT,
      concurrency: IN_FLIGHT,
      token: await setup.token(),
    });
    const opened = open.result as PhaseResult;
    const afterOpen = memoryMiB(gateway.pid);
    process.stderr.write(
      `after opening ${IN_FLIGHT} connections with as many lookups (${opened.items} answered, p99 ` +
        `${opened.latency.p99.toFixed(0)} ms): RSS ${afterOpen.rss.toFixed(0)}, peak ${afterOpen.hwm.toFixed(0)} MiB\n`,
    );

    await connectors.request({ type: 'hold', ms: HOLD_MS });
    await connectors.request({ type: 'held', reset: true });
    const cpuBefore = cpuSeconds(gateway.pid);
    const { result, samples } = await measure(gateway, connectors, load, await setup.token());
    const cpuMsPerLookup = ((cpuSeconds(gateway.pid) - cpuBefore) / result.items) * 1000;
    await connectors.request({ type: 'hold', ms: 0 });
    const { mostHeld } = (await connectors.request({ type: 'held' })) as unknown as { mostHeld: number };
    const after = memoryMiB(gateway.pid);

    const top = samples.reduce((best, s) => (s.rss > best.rss ? s : best));
    // While the load generator still had IN_FLIGHT open (before its last IN_FLIGHT lookups were sent).
    const steady = samples.filter(
      (s) => s.ms > HOLD_MS + 500 && s.ms < result.seconds * 1000 - HOLD_MS - 500,
    );
    const heldSteady = steady.map((s) => s.held).sort((a, b) => a - b);
    const failed = Object.values(result.failures).reduce((a, b) => a + b, 0);
    const summary = {
      from,
      inFlight: IN_FLIGHT,
      count: COUNT,
      holdMs: HOLD_MS,
      answered: result.items,
      failed,
      failures: result.failures,
      seconds: result.seconds,
      perSecond: result.items / result.seconds,
      latency: result.latency,
      /** The gateway's CPU time over the phase (/proc utime+stime; with its GC) per lookup answered. */
      cpuMsPerLookup,
      rssAfterStartMiB: afterStart.rss,
      rssAfterWarmupMiB: afterWarmup.rss,
      peakAfterWarmupMiB: afterWarmup.hwm,
      connectionsOpened: { answered: opened.items, failures: opened.failures, latency: opened.latency },
      peakBeforePhaseMiB: afterOpen.hwm,
      peakAfterPhaseMiB: after.hwm,
      largestRssSampleMiB: top.rss,
      heldAtLargestSample: top.held,
      heapAtLargestSampleMiB: { used: top.heapUsed, total: top.heapTotal, external: top.external },
      mostHeapUsedMiB: Math.max(...samples.map((s) => s.heapUsed)),
      mostHeldAtOnce: mostHeld,
      heldWhileSteady: {
        samples: heldSteady.length,
        min: heldSteady[0],
        median: heldSteady[Math.floor(heldSteady.length / 2)],
        max: heldSteady.at(-1),
      },
      rssAfterPhaseMiB: after.rss,
      machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, load average ${os
        .loadavg()
        .map((n) => n.toFixed(2))
        .join(', ')}`,
    };
    console.log(JSON.stringify(summary, null, 2));
    console.log(
      `\n${IN_FLIGHT} lookups in flight (${COUNT} in all, connectors holding each ${HOLD_MS} ms), gateway from ${from}${args['gateway-node-args'] ? ` (node ${args['gateway-node-args']})` : ''}:\n` +
        `  answered ${result.items}, failed ${failed} ${failed ? JSON.stringify(result.failures) : ''}, ` +
        `${summary.perSecond.toFixed(0)}/s, p50 ${result.latency.p50.toFixed(0)} ms, p99 ${result.latency.p99.toFixed(0)} ms, ` +
        `gateway CPU ${cpuMsPerLookup.toFixed(2)} ms per lookup\n` +
        `  requests held by the connectors (the gateway waiting for them): most at once ${mostHeld}; ` +
        `while the load was steady min ${summary.heldWhileSteady.min}, median ${summary.heldWhileSteady.median}\n` +
        `  gateway RSS: after start ${afterStart.rss.toFixed(0)} MiB, after warm-up ${afterWarmup.rss.toFixed(0)} MiB ` +
        `(peak so far ${afterWarmup.hwm.toFixed(0)}), peak after opening the connections ${afterOpen.hwm.toFixed(0)} MiB; ` +
        `peak (VmHWM) after the phase ${after.hwm.toFixed(0)} MiB; ` +
        `largest sample ${top.rss.toFixed(0)} MiB with ${top.held} held ` +
        `(JS heap ${top.heapUsed.toFixed(0)} used of ${top.heapTotal.toFixed(0)}, external ${top.external.toFixed(0)}; ` +
        `most heap used in any sample ${summary.mostHeapUsedMiB.toFixed(0)} MiB)`,
    );
    if (args.json) await writeFile(args.json, JSON.stringify({ summary, samples }, null, 2));
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}

await main();
