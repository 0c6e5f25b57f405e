/**
 * The separate-process benchmark's plumbing (test/bench/gateway-bench.ts): every part runs as its own
 * Node process, started with tsx and an IPC channel. A part says `ready` once it serves, then answers
 * the orchestrator's requests in order; CPU time and peak memory are read from /proc/<pid>.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitOf, isRunning, stopChildProcess } from '../support/child-process.js';
import { transpileForPlainNode } from './plain-node.js';

export const benchDir = path.dirname(fileURLToPath(import.meta.url));

/** A message between the orchestrator and a part: `type` says what it is. */
export type BenchMessage = { type: string } & Record<string, unknown>;

export interface BenchChild {
  readonly name: string;
  readonly pid: number;
  /** The `ready` message the part sent once it served. */
  readonly ready: Promise<BenchMessage>;
  /** Sends a request and resolves with the part's answer to it. */
  request(message: BenchMessage): Promise<BenchMessage>;
  output(): string;
  /** Asks the part to stop (it closes what it opened), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `node [nodeArgs] --import tsx test/bench/<file> [args]` (with `plainNode`, its transpiled copy, without tsx). */
export function startBenchChild(
  name: string,
  file: string,
  options: {
    args?: string[];
    env?: Record<string, string>;
    nodeArgs?: string[];
    /** Run the part's transpiled JavaScript under plain node, without tsx's loader (plain-node.ts). */
    plainNode?: boolean;
    /** Where the part's stdout goes (its log), instead of being kept with stderr. */
    stdoutFile?: string;
    startTimeoutMs?: number;
  } = {},
): BenchChild {
  const stdoutFd = options.stdoutFile ? openSync(options.stdoutFile, 'a') : undefined;
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      ...(options.plainNode
        ? [transpileForPlainNode(path.join(benchDir, file))]
        : ['--import', 'tsx', path.join(benchDir, file)]),
      ...(options.args ?? []),
    ],
    {
      env: { ...process.env, LOG_LEVEL: 'warn', KAFKAJS_NO_PARTITIONER_WARNING: '1', ...options.env },
      stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe', 'ipc'],
    },
  );
  if (stdoutFd !== undefined) closeSync(stdoutFd);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const waiting: Array<{ resolve: (m: BenchMessage) => void; reject: (e: Error) => void }> = [];
  const exited = new Promise<Error>((resolve) =>
    child.once('exit', (code, signal) =>
      resolve(new Error(`${name} exited (${signal ?? code}); its last output:\n${output.slice(-4000)}`)),
    ),
  );
  let markReady!: (m: BenchMessage) => void;
  const ready = new Promise<BenchMessage>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} was not ready in time:\n${output.slice(-4000)}`)),
      options.startTimeoutMs ?? 120_000,
    );
    markReady = (message) => {
      clearTimeout(timer);
      resolve(message);
    };
    void exited.then((error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  ready.catch(() => {});
  child.on('message', (message: BenchMessage) => {
    if (message.type === 'ready') return markReady(message);
    const waiter = waiting.shift();
    if (message.type === 'failed') waiter?.reject(new Error(`${name} failed: ${String(message.error)}`));
    else waiter?.resolve(message);
  });
  void exited.then((error) => {
    for (const { reject } of waiting.splice(0)) reject(error);
  });
  return {
    name,
    pid: child.pid ?? -1,
    ready,
    output: () => output,
    request(message) {
      return new Promise((resolve, reject) => {
        if (child.exitCode !== null || child.signalCode !== null)
          return reject(new Error(`${name} has exited:\n${output.slice(-4000)}`));
        waiting.push({ resolve, reject });
        child.send(message);
      });
    },
    async stop(graceMs = 20_000) {
      if (!isRunning(child)) return;
      if (child.connected) child.send({ type: 'stop' });
      // Asked, the part closes what it opened and exits (writing a --cpu-prof profile on the way).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exitOf(child), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      await stopChildProcess(child, 2000);
    },
  };
}

/**
 * The part's side: says `ready` with `info`, answers each request with `handle`'s result, and on
 * `stop` runs `stop` and exits. Requests are answered one at a time, in order.
 */
export function serveOrchestrator(
  info: Record<string, unknown>,
  handle: (message: BenchMessage) => Promise<Record<string, unknown>>,
  stop: () => Promise<void>,
): void {
  let queue = Promise.resolve();
  process.on('message', (message: BenchMessage) => {
    if (message.type === 'stop') {
      queue = queue.then(async () => {
        await stop().catch(() => {});
        process.exit(0);
      });
      return;
    }
    queue = queue.then(async () => {
      try {
        process.send?.({ type: 'answer', ...(await handle(message)) });
      } catch (error) {
        process.send?.({ type: 'failed', error: error instanceof Error ? error.stack : String(error) });
      }
    });
  });
  // Without the orchestrator (it died), nothing will stop this part: leave.
  process.on('disconnect', () => void stop().finally(() => process.exit(0)));
  process.send?.({ type: 'ready', ...info });
}

/** user + system CPU seconds a process used so far (/proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Peak resident set size in MiB (VmHWM in /proc/<pid>/status). */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  return kib / 1024;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarise(latencies: number[]): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}

/** What one measured phase of a load generator returns. */
export interface PhaseResult {
  /** Requests (HTTP calls, or request-reply round trips) completed. */
  requests: number;
  /** Lookups answered 200: requests, or batch items. */
  items: number;
  failures: Record<string, number>;
  seconds: number;
  latency: LatencySummary;
  /** Every call's latency, ms, in the order they ended: only when asked for (to merge phases). */
  samples?: number[];
}

/** Runs `count` calls of `call`, `concurrency` at a time, timing each. */
export async function runPhase(
  count: number,
  concurrency: number,
  call: (i: number) => Promise<{ items: number; failure?: string }>,
  options: { samples?: boolean; offset?: number } = {},
): Promise<PhaseResult> {
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let items = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = (options.offset ?? 0) + next++;
        const t0 = performance.now();
        const outcome = await call(i).catch((error: unknown) => ({
          items: 0,
          failure: error instanceof Error ? error.message.slice(0, 80) : String(error),
        }));
        latencies.push(performance.now() - t0);
        items += outcome.items;
        if (outcome.failure) failures[outcome.failure] = (failures[outcome.failure] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    requests: count,
    items,
    failures,
    seconds,
    latency: summarise(latencies),
    ...(options.samples ? { samples: latencies } : {}),
  };
}
