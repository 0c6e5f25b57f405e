/**
 * What a process holds, as the kernel and the gateway's own /metrics report it: resident memory
 * (/proc/<pid>/status VmRSS), open file descriptors (/proc/<pid>/fd), and the V8 heap in use
 * (prom-client's nodejs_heap_size_used_bytes). Linux only, like the CI machine.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface Usage {
  /** performance.now() of the reading. */
  at: number;
  rssBytes: number;
  /**
   * Open file descriptors other than sockets (files, pipes, event descriptors). Sockets come and go
   * with the clients' connections (a latency spike at a fixed request rate opens more), so they
   * are counted apart: a growing count here is a leak, a growing socket count may be load.
   */
  fds: number;
  sockets: number;
  /** Undefined when no metrics URL was given or it did not answer. */
  heapUsedBytes?: number;
}

export async function readUsage(pid: number, metricsUrl?: string): Promise<Usage> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  const targets = await Promise.all(
    (await readdir(`/proc/${pid}/fd`)).map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')),
  );
  const sockets = targets.filter((target) => target.startsWith('socket:')).length;
  const fds = targets.length - sockets;
  let heapUsedBytes: number | undefined;
  if (metricsUrl) {
    const text = await fetch(metricsUrl)
      .then((response) => response.text())
      .catch(() => '');
    const match = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
    if (match) heapUsedBytes = Number(match[1]);
  }
  return {
    at: performance.now(),
    rssBytes: rssKb * 1024,
    fds,
    sockets,
    ...(heapUsedBytes ? { heapUsedBytes } : {}),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Least-squares slope of `values` over `times` (ms), per minute. */
export function slopePerMinute(times: number[], values: number[]): number {
  const n = times.length;
  if (n < 2) return 0;
  const meanT = times.reduce((a, b) => a + b, 0) / n;
  const meanV = values.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i += 1) {
    num += ((times[i] as number) - meanT) * ((values[i] as number) - meanV);
    den += ((times[i] as number) - meanT) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60_000;
}
