/**
 * What a shared rate limit costs per lookup on real PostgreSQL, next to the in-memory buckets: wall
 * time and this process's CPU time per decision, and database round trips per decision, for leases of
 * 1 token (the plain "one atomic UPSERT per lookup" design), 10 (600 a minute with the default lease
 * period) and 100. A measurement printed for the record, not a timed assertion: only the round trips
 * are checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeasedRateLimiter } from '../../gateway/policy/leased-rate-limiter.js';
import { createRateLimitStore, type RateLimitStore } from '../../gateway/policy/rate-limit-store.js';
import { createRateLimiter, type RateLimit, type RateLimiter } from '../../gateway/policy/rate-limiter.js';
import type { Database } from '../../gateway/storage/database.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const DECISIONS = 3_000;
const IN_FLIGHT = 16;

let testDatabase: TestDatabase;
let database: Database;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  database = createPostgresDatabase({ connectionString: testDatabase.url });
});
afterAll(async () => {
  await database?.close();
  await testDatabase?.drop();
});

interface Measured {
  limiter: string;
  inFlight: number;
  wallUsPerDecision: number;
  cpuUsPerDecision: number;
  roundTripsPerDecision: number;
}

async function measure(
  name: string,
  limiter: RateLimiter,
  limit: RateLimit,
  inFlight: number,
  roundTrips: () => number,
): Promise<Measured> {
  const key = { policyId: `bench-${name}-${inFlight}`, requester: 'service-centre/approval' };
  for (let i = 0; i < 50; i += 1) await limiter.take(key, limit); // warm up
  const tripsBefore = roundTrips();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  let denied = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < DECISIONS) {
        next += 1;
        if (!(await limiter.take(key, limit)).allowed) denied += 1;
      }
    }),
  );
  const wall = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  expect(denied).toBe(0);
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    limiter: name,
    inFlight,
    wallUsPerDecision: round((wall * 1000) / DECISIONS),
    cpuUsPerDecision: round((cpu.user + cpu.system) / DECISIONS),
    roundTripsPerDecision: round((roundTrips() - tripsBefore) / DECISIONS),
  };
}

function counted(store: RateLimitStore) {
  let leases = 0;
  const counting: RateLimitStore = {
    lease: (...args) => {
      leases += 1;
      return store.lease(...args);
    },
  };
  return { store: counting, leases: () => leases };
}

describe('the cost of a shared rate limit per lookup', () => {
  it('is measured against the in-memory buckets', async () => {
    const results: Measured[] = [];
    for (const inFlight of [1, IN_FLIGHT]) {
      results.push(
        await measure(
          'in-memory',
          createRateLimiter(),
          { requestsPerMinute: 60, burst: 1_000_000 },
          inFlight,
          () => 0,
        ),
      );
      // A lease is what the rate refills in a second: 60 a minute leases 1 token, 600 leases 10.
      for (const leaseTokens of [1, 10, 100]) {
        const leases = counted(createRateLimitStore(database));
        const limiter = createLeasedRateLimiter({ store: leases.store });
        const limit = { requestsPerMinute: 60 * leaseTokens, burst: 1_000_000 };
        const result = await measure(`leased x${leaseTokens}`, limiter, limit, inFlight, leases.leases);
        // One round trip per lease (a few more when lookups in flight outrun one).
        expect(result.roundTripsPerDecision).toBeGreaterThanOrEqual(0.99 / leaseTokens);
        expect(result.roundTripsPerDecision).toBeLessThanOrEqual(1.05 / leaseTokens + 0.01);
        results.push(result);
      }
    }
    console.log(`rate limiter cost per decision (${DECISIONS} decisions, real PostgreSQL):`);
    console.table(results);
  });
});
