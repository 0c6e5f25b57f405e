/**
 * Token buckets, one per (policy, requester system): `burst` requests at once, refilled at
 * `requestsPerMinute`. This file holds the arithmetic and the in-memory limiter, exact for one
 * gateway process (embedded PGlite: there is only ever one). Instances sharing PostgreSQL use the
 * leased limiter over the shared buckets instead (`leased-rate-limiter.ts`, `rate-limit-store.ts`).
 */

export interface RateLimit {
  requestsPerMinute: number;
  burst?: number;
}

/** Which bucket: the policy that sets the rate, and the system (or department) it applies to. */
export interface RateKey {
  policyId: string;
  requester: string;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Spends one token of the bucket if it has one; denied lookups spend nothing. */
  take(key: RateKey, limit: RateLimit): Promise<RateDecision>;
}

export const capacityOf = (limit: RateLimit): number => limit.burst ?? limit.requestsPerMinute;
export const tokensPerMs = (limit: RateLimit): number => limit.requestsPerMinute / 60_000;

/** Whole seconds until a bucket holding `tokens` (< 1) has one again; at least 1 (Retry-After). */
export function retryAfterSeconds(tokens: number, limit: RateLimit): number {
  return Math.max(1, Math.ceil((1 - tokens) / (tokensPerMs(limit) * 1000)));
}

/** The bucket after `elapsedMs`: a reload that lowers the burst leaves no more than the new capacity. */
export function refilled(tokens: number, elapsedMs: number, limit: RateLimit): number {
  return Math.min(capacityOf(limit), tokens + Math.max(0, elapsedMs) * tokensPerMs(limit));
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const MAX_BUCKETS = 10_000;
const IDLE_MS = 10 * 60_000;

export interface MemoryRateLimiter extends RateLimiter {
  readonly size: number;
}

export function createRateLimiter(now: () => number = Date.now): MemoryRateLimiter {
  const buckets = new Map<string, Bucket>();

  return {
    async take(key, limit) {
      const at = now();
      if (buckets.size > MAX_BUCKETS) {
        // Forget buckets idle for long: they have (all but) refilled, so a fresh bucket is the same.
        for (const [bucketKey, bucket] of buckets)
          if (at - bucket.updatedAt > IDLE_MS) buckets.delete(bucketKey);
      }
      const id = `${key.policyId}\0${key.requester}`;
      const bucket = buckets.get(id) ?? { tokens: capacityOf(limit), updatedAt: at };
      bucket.tokens = refilled(bucket.tokens, at - bucket.updatedAt, limit);
      bucket.updatedAt = at;
      buckets.set(id, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true };
      }
      return { allowed: false, retryAfterSeconds: retryAfterSeconds(bucket.tokens, limit) };
    },
    get size() {
      return buckets.size;
    },
  };
}
