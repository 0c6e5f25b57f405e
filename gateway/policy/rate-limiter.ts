/**
 * Token buckets, one per (policy, requester system): `burst` requests at once, refilled at
 * `requestsPerMinute`. In memory, per gateway instance: N instances behind a load balancer allow up
 * to N times the rate in total (documented; a shared limiter would need a shared store).
 */

export interface RateLimit {
  requestsPerMinute: number;
  burst?: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface RateLimiter {
  take(key: string, limit: RateLimit): RateDecision;
  readonly size: number;
}

const MAX_BUCKETS = 10_000;
const IDLE_MS = 10 * 60_000;

export function createRateLimiter(now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, Bucket>();

  function refill(bucket: Bucket, limit: RateLimit, at: number): number {
    const capacity = limit.burst ?? limit.requestsPerMinute;
    const perMs = limit.requestsPerMinute / 60_000;
    // A reload that lowers the burst must not leave a bucket holding more than the new capacity.
    return Math.min(capacity, bucket.tokens + Math.max(0, at - bucket.updatedAt) * perMs);
  }

  return {
    take(key, limit) {
      const at = now();
      const capacity = limit.burst ?? limit.requestsPerMinute;
      if (buckets.size > MAX_BUCKETS) {
        // Forget buckets idle for long: they have (all but) refilled, so a fresh bucket is the same.
        for (const [bucketKey, bucket] of buckets)
          if (at - bucket.updatedAt > IDLE_MS) buckets.delete(bucketKey);
      }
      const bucket = buckets.get(key) ?? { tokens: capacity, updatedAt: at };
      bucket.tokens = refill(bucket, limit, at);
      bucket.updatedAt = at;
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true };
      }
      const perSecond = limit.requestsPerMinute / 60;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)) };
    },
    get size() {
      return buckets.size;
    },
  };
}
