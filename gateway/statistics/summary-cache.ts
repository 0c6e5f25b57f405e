/**
 * Keeps anonymous callers from loading the database: answers are kept for `ttlMs` per key, callers
 * asking the same key meanwhile share one computation, and at most `maxConcurrent` different keys
 * are computed at once (the others wait their turn).
 */

export interface SummaryCacheOptions {
  ttlMs: number;
  maxEntries: number;
  maxConcurrent: number;
  now?: () => number;
}

export function createSummaryCache<T>(
  options: SummaryCacheOptions,
): (key: string, compute: () => Promise<T>) => Promise<T> {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { expires: number; value: Promise<T> }>();
  let running = 0;
  const waiting: Array<() => void> = [];

  async function limited(compute: () => Promise<T>): Promise<T> {
    if (running >= options.maxConcurrent) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await compute();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  }

  return (key, compute) => {
    const cached = entries.get(key);
    if (cached && cached.expires > now()) return cached.value;
    entries.delete(key);
    if (entries.size >= options.maxEntries) {
      for (const [old, entry] of entries) if (entry.expires <= now()) entries.delete(old);
      // Still full: drop the oldest (Map keeps insertion order).
      if (entries.size >= options.maxEntries) entries.delete(entries.keys().next().value as string);
    }
    const value = limited(compute);
    entries.set(key, { expires: now() + options.ttlMs, value });
    // A failure is not kept: the next caller tries again.
    value.catch(() => entries.get(key)?.value === value && entries.delete(key));
    return value;
  };
}
