/**
 * Shared token buckets (rate-limit-store.ts) on embedded PGlite, the same SQL PostgreSQL runs, and the
 * leased limiter (leased-rate-limiter.ts) over them: two limiters on one database stand for two
 * gateway instances. Time is moved by hand, on both the database's side and the instances'.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '../../gateway/foundation/errors.js';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import { createLeasedRateLimiter, leaseSize } from '../../gateway/policy/leased-rate-limiter.js';
import { createRateLimitStore, type RateLimitStore } from '../../gateway/policy/rate-limit-store.js';
import {
  createRateLimiter,
  type RateKey,
  type RateLimit,
  type RateLimiter,
} from '../../gateway/policy/rate-limiter.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';

let database: Database;
let now = Date.parse('2026-11-27T08:00:00Z');
const clock = () => now;
let store: RateLimitStore;
let keys = 0;
/** A bucket of its own for each test. */
let key: RateKey;

beforeAll(async () => {
  database = await createPgliteDatabase(undefined);
  await migrate(database, migrationsDir);
  store = createRateLimitStore(database, clock);
});
afterAll(() => database.close());
beforeEach(() => {
  keys += 1;
  key = { policyId: 'service-centre', requester: `service-centre/approval-${keys}` };
});

/** Counts the leases a limiter asks for. */
function counting(inner: RateLimitStore) {
  const counted = {
    leases: 0,
    lease: ((...args) => {
      counted.leases += 1;
      return inner.lease(...args);
    }) as RateLimitStore['lease'],
  };
  return counted;
}

async function allowedOf(limiter: RateLimiter, limit: RateLimit, times: number) {
  let allowed = 0;
  for (let i = 0; i < times; i += 1) if ((await limiter.take(key, limit)).allowed) allowed += 1;
  return allowed;
}

describe('the shared bucket', () => {
  const limit = { requestsPerMinute: 6, burst: 2 };

  it('starts full, leases whole tokens, and refills at the rate', async () => {
    expect(await store.lease(key, limit, 5)).toEqual({ granted: 2, tokens: 0 });
    expect(await store.lease(key, limit, 1)).toEqual({ granted: 0, tokens: 0 });
    now += 5_000; // half a token
    expect(await store.lease(key, limit, 1)).toEqual({ granted: 0, tokens: 0.5 });
    now += 5_000;
    expect(await store.lease(key, limit, 1)).toEqual({ granted: 1, tokens: 0 });
    now += 3_600_000; // never more than the burst
    expect(await store.lease(key, limit, 10)).toEqual({ granted: 2, tokens: 0 });
  });

  it('holds no more than a lowered burst, and gains nothing from a clock running backwards', async () => {
    expect(await store.lease(key, { requestsPerMinute: 600, burst: 100 }, 1)).toEqual({
      granted: 1,
      tokens: 99,
    });
    expect(await store.lease(key, { requestsPerMinute: 600, burst: 10 }, 1)).toEqual({
      granted: 1,
      tokens: 9,
    });
    now -= 60_000;
    expect(await store.lease(key, { requestsPerMinute: 600, burst: 10 }, 0)).toEqual({
      granted: 0,
      tokens: 9,
    });
    // Time went back, the bucket's time did not: a minute later on the slow clock refills nothing.
    now += 60_000;
    expect(await store.lease(key, { requestsPerMinute: 600, burst: 10 }, 0)).toMatchObject({ tokens: 9 });
  });

  it('grants each token once under concurrent leases', async () => {
    const leases = await Promise.all(
      Array.from({ length: 40 }, () => store.lease(key, { requestsPerMinute: 60, burst: 25 }, 2)),
    );
    expect(leases.reduce((sum, lease) => sum + lease.granted, 0)).toBe(25);
  });
});

describe('the lease size', () => {
  it('is what the rate refills in a lease period, at most a tenth of the burst, at least one', () => {
    expect(leaseSize({ requestsPerMinute: 600, burst: 120 })).toBe(10);
    expect(leaseSize({ requestsPerMinute: 600, burst: 50 })).toBe(5);
    expect(leaseSize({ requestsPerMinute: 6, burst: 2 })).toBe(1);
    expect(leaseSize({ requestsPerMinute: 60_000 })).toBe(1000);
    expect(leaseSize({ requestsPerMinute: 60_000 }, 100)).toBe(100);
  });
});

describe('two gateway instances leasing from one bucket', () => {
  const instance = (leases = store) => createLeasedRateLimiter({ store: leases, now: clock });

  it('answer 429 after the burst counted across both, with the Retry-After one instance would give', async () => {
    const limit = { requestsPerMinute: 6, burst: 2 };
    const [a, b] = [instance(), instance()];
    expect(await a.take(key, limit)).toEqual({ allowed: true });
    expect(await b.take(key, limit)).toEqual({ allowed: true });
    const limited = await a.take(key, limit);
    expect(limited).toEqual({ allowed: false, retryAfterSeconds: 10 });
    expect(await b.take(key, limit)).toEqual(limited);
    // The same arithmetic as one instance's in-memory bucket.
    const memory = createRateLimiter(clock);
    await memory.take(key, limit);
    await memory.take(key, limit);
    expect(await memory.take(key, limit)).toEqual(limited);

    now += 4_000;
    expect(await b.take(key, limit)).toEqual({ allowed: false, retryAfterSeconds: 6 });
    now += 6_000;
    expect(await b.take(key, limit)).toEqual({ allowed: true });
    expect(await a.take(key, limit)).toEqual({ allowed: false, retryAfterSeconds: 10 });
  });

  it('spend leases locally: one database round trip per lease, not per lookup', async () => {
    const limit = { requestsPerMinute: 600, burst: 120 };
    const leases = counting(store);
    const [a, b] = [instance(leases), instance(leases)];
    let allowed = 0;
    for (let i = 0; i < 200; i += 1) if ((await (i % 2 ? b : a).take(key, limit)).allowed) allowed += 1;
    // No time passed: exactly the burst, across both, in leases of 10 (and two that found it empty).
    expect(allowed).toBe(120);
    expect(leases.leases).toBe(14);
  });

  it('remember a denial until the shared bucket can have a token again', async () => {
    const limit = { requestsPerMinute: 60, burst: 1 };
    const leases = counting(store);
    const a = instance(leases);
    expect(await a.take(key, limit)).toEqual({ allowed: true });
    expect(await a.take(key, limit)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    now += 500;
    expect(await a.take(key, limit)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(leases.leases).toBe(2);
    now += 500;
    expect(await a.take(key, limit)).toEqual({ allowed: true });
    expect(leases.leases).toBe(3);
  });

  it('drop leased tokens they have not spent within the lease period', async () => {
    const limit = { requestsPerMinute: 600, burst: 100 };
    const a = instance();
    expect(await a.take(key, limit)).toEqual({ allowed: true }); // leased 10, spent 1
    now += 1_000;
    // The 9 left are gone; the bucket refilled 10 meanwhile: 90 + 10 = 100, leased 10 again.
    expect(await a.take(key, limit)).toEqual({ allowed: true });
    expect(await store.lease(key, limit, 0)).toEqual({ granted: 0, tokens: 90 });
  });

  it('overshoot the burst by at most what one lease period refills: the worst case', async () => {
    const limit = { requestsPerMinute: 600, burst: 30 }; // leases of 3
    const [a, b] = [instance(), instance()];
    expect(await a.take(key, limit)).toEqual({ allowed: true }); // a holds 2 more
    now += 300; // the shared bucket is full again
    const fromB = await allowedOf(b, limit, 40);
    const fromA = await allowedOf(a, limit, 5);
    // At one instant, 32: beyond the burst by the 2 tokens a leased 300 ms ago, within
    // burst + rate x lease period (30 + 10).
    expect([fromB, fromA]).toEqual([30, 2]);
    now += 1_000;
    expect(await allowedOf(a, limit, 20)).toBe(10); // what a second refills, no more
  });

  it('never allow more than burst + rate x (t + lease period) over any t, however the lookups fall', async () => {
    const limit = { requestsPerMinute: 600, burst: 30 };
    const perMs = 600 / 60_000;
    const instances = [instance(), instance(), instance()];
    // A deterministic, uneven pattern: bursts on one instance, quiet spells, then all three at once.
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const allowedAt: number[] = [];
    const start = now;
    for (let step = 0; step < 3_000; step += 1) {
      now += Math.floor(random() * 20);
      const phase = Math.floor(step / 300) % 3;
      const callers = phase === 0 ? [instances[0]] : phase === 1 ? instances : [instances[step % 3]];
      for (const caller of callers)
        if (caller && random() < 0.8 && (await caller.take(key, limit)).allowed) allowedAt.push(now);
    }
    expect(allowedAt.length).toBeGreaterThan(30);
    let worst = 0;
    for (let i = 0; i < allowedAt.length; i += 1) {
      for (let j = i; j < allowedAt.length; j += 1) {
        const t = (allowedAt[j] as number) - (allowedAt[i] as number);
        const bound = 30 + perMs * (t + 1_000);
        worst = Math.max(worst, j - i + 1 - bound);
      }
    }
    expect(worst).toBeLessThanOrEqual(0);
    // And over the whole run: no more than one shared bucket would have allowed, plus one lease period.
    expect(allowedAt.length).toBeLessThanOrEqual(30 + perMs * (now - start + 1_000));
  });
});

describe('one instance under concurrent lookups', () => {
  it('takes one lease for lookups that arrive together, and shares it out', async () => {
    const limit = { requestsPerMinute: 600, burst: 120 };
    const leases = counting(store);
    const a = createLeasedRateLimiter({ store: leases, now: clock });
    const decisions = await Promise.all(Array.from({ length: 25 }, () => a.take(key, limit)));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(25);
    expect(leases.leases).toBe(3);
  });

  it('denies the lookups beyond the bucket when they arrive together', async () => {
    const limit = { requestsPerMinute: 6, burst: 4 };
    const a = createLeasedRateLimiter({ store, now: clock });
    const decisions = await Promise.all(Array.from({ length: 10 }, () => a.take(key, limit)));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(4);
    expect(decisions.filter((decision) => !decision.allowed)).toEqual(
      Array(6).fill({ allowed: false, retryAfterSeconds: 10 }),
    );
  });

  it('fails closed with 503 when the database cannot be reached, and recovers with it', async () => {
    const limit = { requestsPerMinute: 60, burst: 5 };
    let down = true;
    const flaky: RateLimitStore = {
      lease: (...args) => (down ? Promise.reject(new Error('connection refused')) : store.lease(...args)),
    };
    const a = createLeasedRateLimiter({ store: flaky, now: clock });
    const failures = await Promise.allSettled(Array.from({ length: 3 }, () => a.take(key, limit)));
    for (const failure of failures) {
      expect(failure.status).toBe('rejected');
      const error = (failure as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect(error).toMatchObject({ status: 503, problem: 'rate-limit-unavailable' });
    }
    down = false;
    expect(await allowedOf(a, limit, 6)).toBe(5);
  });

  it('starts afresh when a policy reload changes the limit', async () => {
    const a = createLeasedRateLimiter({ store, now: clock });
    expect(await allowedOf(a, { requestsPerMinute: 1, burst: 1 }, 2)).toBe(1);
    // Denied for a minute under the old rate; the new one refills a token in a tenth of a second.
    now += 100;
    expect(await a.take(key, { requestsPerMinute: 600, burst: 1 })).toEqual({ allowed: true });
  });
});
