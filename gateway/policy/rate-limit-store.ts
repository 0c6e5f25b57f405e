/**
 * The token buckets every gateway instance on one database shares (migration 080_rate_limits.sql).
 * One statement takes a lease: it refills the bucket for the time since its last update (on the
 * database's clock, so instances' clocks do not matter), takes up to `want` whole tokens, and says how
 * many it took and what is left. The row lock serialises instances on the same bucket; nothing else.
 *
 * Not rate-limiter-flexible's PostgreSQL store (maintained, widely used): it counts fixed windows (up
 * to twice the limit across a window edge), asks the database on every request, creates its table
 * at run time rather than in a migration, and takes a `pg` client, not PGlite.
 */
import type { Queryable } from '../storage/database.js';
import { capacityOf, type RateKey, type RateLimit, tokensPerMs } from './rate-limiter.js';

export interface Lease {
  /** Whole tokens taken, 0..want: 0 when the bucket holds less than one. */
  granted: number;
  /** What the bucket holds after the lease (fractional). */
  tokens: number;
}

export interface RateLimitStore {
  lease(key: RateKey, limit: RateLimit, want: number): Promise<Lease>;
}

// $1 policy, $2 requester, $3 capacity, $4 tokens per second, $5 want, $6 time (ms) or null for the
// database's clock. A new bucket starts full. `greatest` keeps time from running backwards when two
// leases on one bucket commit in the other order than they read the clock.
const LEASE = `
INSERT INTO rate_limit_buckets AS bucket (policy_id, requester, tokens, granted, updated_at)
SELECT $1, $2, $3::float8 - least($5::int, floor($3::float8)), least($5::int, floor($3::float8)), at
FROM (SELECT coalesce(to_timestamp($6::float8 / 1000), clock_timestamp()) AS at) AS clock
ON CONFLICT (policy_id, requester) DO UPDATE SET (tokens, granted, updated_at) = (
  SELECT full_bucket - taken, taken, at FROM (
    SELECT full_bucket, least($5::int, floor(full_bucket))::int AS taken, at FROM (
      SELECT
        least(
          $3::float8,
          bucket.tokens +
            greatest(0, extract(epoch FROM excluded.updated_at - bucket.updated_at))::float8 * $4::float8
        ) AS full_bucket,
        greatest(bucket.updated_at, excluded.updated_at) AS at
    ) AS refill
  ) AS lease
)
RETURNING granted, tokens`;

/** `now` (ms since the epoch) is for tests that move time; by default the database's clock counts. */
export function createRateLimitStore(database: Queryable, now?: () => number): RateLimitStore {
  return {
    async lease(key, limit, want) {
      const { rows } = await database.query<{ granted: number; tokens: number }>(LEASE, [
        key.policyId,
        key.requester,
        capacityOf(limit),
        tokensPerMs(limit) * 1000,
        Math.max(0, Math.floor(want)),
        now ? now() : null,
      ]);
      const row = rows[0];
      if (!row) throw new Error('the rate limit lease returned no row');
      return { granted: Number(row.granted), tokens: Number(row.tokens) };
    },
  };
}
