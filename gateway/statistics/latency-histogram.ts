/**
 * Latency percentiles from a fixed histogram, so they can be summed over hours, departments and
 * instances (a percentile of percentiles means nothing). Bucket i holds latencies in
 * [LATENCY_BOUNDS_MS[i-1], LATENCY_BOUNDS_MS[i]) (bucket 0 from 0 ms, the last one from 120 s up).
 * Neighbouring bounds differ by a factor of at most 2 (mostly 1.5), so an estimate lies in the right
 * bucket and is at most one bucket's width off; within a bucket it is interpolated linearly, as
 * Prometheus' histogram_quantile does. Above the last bound the estimate is that bound.
 */

export const LATENCY_BOUNDS_MS = [
  1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500,
  10_000, 15_000, 20_000, 30_000, 60_000, 120_000,
] as const;

/** Number of buckets (and histogram columns l00 .. l29 in migration 050). */
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** Names the bucket layout; the roll-up is rebuilt when it changes. */
export const LATENCY_LAYOUT = `v1:${LATENCY_BOUNDS_MS.join(',')}`;

/** The histogram columns, in bucket order. */
export const HISTOGRAM_COLUMNS = Array.from(
  { length: LATENCY_BUCKETS },
  (_, index) => `l${String(index).padStart(2, '0')}`,
);

/** SQL: the bucket (0-based) of a latency in milliseconds (PostgreSQL's width_bucket with thresholds). */
export function latencyBucketSql(latencyMs: string): string {
  return `width_bucket(${latencyMs}, '{${LATENCY_BOUNDS_MS.join(',')}}'::float8[])`;
}

/** The bucket a latency falls into, as latencyBucketSql computes it. */
export function latencyBucket(latencyMs: number): number {
  const index = LATENCY_BOUNDS_MS.findIndex((bound) => latencyMs < bound);
  return index === -1 ? LATENCY_BOUNDS_MS.length : index;
}

export const PERCENTILES = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 } as const;

/** The q-quantile (0 < q <= 1) of a histogram, in ms to 0.1 ms; null when it is empty. */
export function quantile(histogram: readonly number[], q: number): number | null {
  const total = histogram.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let index = 0; index < histogram.length; index += 1) {
    const count = histogram[index] ?? 0;
    if (count > 0 && below + count >= rank) {
      const upper = LATENCY_BOUNDS_MS[index];
      const lower = index === 0 ? 0 : (LATENCY_BOUNDS_MS[index - 1] as number);
      if (upper === undefined) return lower;
      return Math.round((lower + ((upper - lower) * (rank - below)) / count) * 10) / 10;
    }
    below += count;
  }
  return null;
}

export function percentiles<K extends keyof typeof PERCENTILES>(
  histogram: readonly number[],
  which: readonly K[],
): Record<K, number | null> {
  return Object.fromEntries(which.map((key) => [key, quantile(histogram, PERCENTILES[key])])) as Record<
    K,
    number | null
  >;
}

export function addHistograms(into: number[], add: readonly number[]): number[] {
  for (let index = 0; index < LATENCY_BUCKETS; index += 1)
    into[index] = (into[index] ?? 0) + (add[index] ?? 0);
  return into;
}

export const emptyHistogram = (): number[] => new Array(LATENCY_BUCKETS).fill(0);
