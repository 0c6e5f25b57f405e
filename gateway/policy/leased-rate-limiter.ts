/**
 * Rate limits that hold across gateway instances sharing PostgreSQL, without a database round trip
 * per lookup. An instance leases a few tokens at a time from the shared bucket (`rate-limit-store.ts`)
 * and spends them locally for at most `leaseMs`; what it has not spent by then is dropped, never
 * returned. Tokens leave the shared bucket before they are spent, so over any interval of t seconds
 * the cluster allows at most burst + rate x (t + leaseMs) lookups per requester, however many
 * instances there are (docs/identity-and-policy.md has the argument).
 *
 * A denial is remembered too: the shared bucket cannot hold a whole token again before the time it
 * named, so until then this instance answers 429 without asking. Concurrent lookups of one requester
 * wait for one lease rather than each asking for its own.
 *
 * The database unreachable: fail closed with 503 `rate-limit-unavailable`, as the audit log does; a
 * fallback to local buckets would let N instances allow N times the rate exactly when it is hardest
 * to see. Tokens already leased are still spent (the lookup then needs the audit log anyway).
 */
import { ServiceUnavailableError } from '../foundation/errors.js';
import type { Lease, RateLimitStore } from './rate-limit-store.js';
import {
  capacityOf,
  type RateDecision,
  type RateKey,
  type RateLimit,
  type RateLimiter,
  retryAfterSeconds,
  tokensPerMs,
} from './rate-limiter.js';

export const DEFAULT_LEASE_MS = 1000;

export interface LeasedRateLimiterOptions {
  store: RateLimitStore;
  /** Milliseconds; tests move time. Default: a monotonic clock, so a clock step cannot stretch a lease. */
  now?: () => number;
  /** How long leased tokens may be spent. Default 1000 ms. */
  leaseMs?: number;
}

/**
 * Tokens per lease: what the rate refills in one lease period, at most a tenth of the burst (tokens
 * one instance holds are missing to the others), at least one. 600/min, burst 120: 10.
 */
export function leaseSize(limit: RateLimit, leaseMs = DEFAULT_LEASE_MS): number {
  const perLease = Math.floor(tokensPerMs(limit) * leaseMs);
  return Math.max(1, Math.min(perLease, Math.floor(capacityOf(limit) / 10)));
}

interface LocalBucket {
  /** Leased and not yet spent: whole tokens. */
  tokens: number;
  /** Leased tokens are dropped at this time (local clock). */
  expiresAt: number;
  /** The shared bucket holds less than one token until then: deny without asking. */
  blockedUntil: number;
  /** The limit this state was computed under: a policy reload that changes it starts afresh. */
  limit: string;
  /** The lease being taken; concurrent lookups wait for it. */
  pending?: Promise<void>;
}

const MAX_BUCKETS = 10_000;

export function createLeasedRateLimiter(options: LeasedRateLimiterOptions): RateLimiter {
  const { store } = options;
  const now = options.now ?? (() => performance.now());
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const buckets = new Map<string, LocalBucket>();

  const unavailable = (cause: unknown) => {
    const error = new ServiceUnavailableError(
      'Rate limits cannot be checked: the shared rate-limit state in the database is unavailable.',
      'rate-limit-unavailable',
    );
    error.cause = cause;
    return error;
  };

  function forgetIdle(at: number) {
    for (const [id, bucket] of buckets)
      if (!bucket.pending && bucket.expiresAt <= at && bucket.blockedUntil <= at) buckets.delete(id);
  }

  function localBucket(id: string, limit: RateLimit, at: number): LocalBucket {
    const signature = `${limit.requestsPerMinute}/${capacityOf(limit)}`;
    let bucket = buckets.get(id);
    if (!bucket || bucket.limit !== signature) {
      if (!bucket && buckets.size >= MAX_BUCKETS) forgetIdle(at);
      bucket = { tokens: 0, expiresAt: 0, blockedUntil: 0, limit: signature };
      buckets.set(id, bucket);
    }
    return bucket;
  }

  async function lease(bucket: LocalBucket, key: RateKey, limit: RateLimit): Promise<Lease> {
    // Counted from before the lease was asked for: its tokens left the shared bucket after this.
    const askedAt = now();
    const taken = await store.lease(key, limit, leaseSize(limit, leaseMs));
    bucket.tokens = taken.granted;
    bucket.expiresAt = askedAt + leaseMs;
    bucket.blockedUntil = taken.granted > 0 ? 0 : askedAt + (1 - taken.tokens) / tokensPerMs(limit);
    return taken;
  }

  return {
    async take(key, limit): Promise<RateDecision> {
      const bucket = localBucket(`${key.policyId}\0${key.requester}`, limit, now());
      for (;;) {
        const at = now();
        if (bucket.tokens >= 1 && at < bucket.expiresAt) {
          bucket.tokens -= 1;
          return { allowed: true };
        }
        if (at < bucket.blockedUntil) {
          return {
            allowed: false,
            retryAfterSeconds: Math.max(1, Math.ceil((bucket.blockedUntil - at) / 1000)),
          };
        }
        if (bucket.pending) {
          // Someone else's lease: then look again (others may have spent it meanwhile; if it failed,
          // this lookup asks itself, and fails on its own).
          await bucket.pending;
          continue;
        }
        const taking = lease(bucket, key, limit);
        const settle = () => {
          bucket.pending = undefined;
        };
        // Settles (and clears itself) before this lookup or any waiter resumes.
        bucket.pending = taking.then(settle, settle);
        let taken: Lease;
        try {
          taken = await taking;
        } catch (error) {
          throw unavailable(error);
        }
        if (taken.granted === 0)
          return { allowed: false, retryAfterSeconds: retryAfterSeconds(taken.tokens, limit) };
      }
    },
  };
}
