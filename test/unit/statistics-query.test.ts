import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LookupOutcome } from '../../gateway/access/lookup-terms.js';
import type { AuditEvent, LookupAuditEvent } from '../../gateway/audit/audit-events.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import {
  liveInstancesByDepartment,
  sampleAvailability,
} from '../../gateway/statistics/connector-availability.js';
import { LATENCY_BOUNDS_MS, latencyBucket, quantile } from '../../gateway/statistics/latency-histogram.js';
import { rollUp, rollUpOnce } from '../../gateway/statistics/statistics-rollup.js';
import {
  createStatisticsService,
  type StatisticsQuery,
} from '../../gateway/statistics/statistics-service.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';

let database: Database;
let sequence = 0;

function lookup(at: string, overrides: Partial<LookupAuditEvent> = {}): LookupAuditEvent {
  return {
    kind: 'lookup',
    lookupId: `l-${at}-${Math.random()}`,
    at,
    requester: { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' },
    purpose: { matter: 'CA-0201', caseRef: 'CASE-1', officer: 'officer-042' },
    certificateType: 'resident-id-card',
    provider: 'public-security',
    outcome: 'granted',
    status: 200,
    latencyMs: 10,
    ...overrides,
  };
}

/** Appends events as the log would (the chain hashes are not what this test is about). */
async function append(events: AuditEvent[]): Promise<void> {
  await database.query(
    `INSERT INTO audit_events (sequence, prev_hash, hash, event)
     SELECT $2::bigint + n, repeat('0', 64), repeat('0', 64), e
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)`,
    [JSON.stringify(events), sequence],
  );
  sequence += events.length;
}

/** A fresh, empty log and roll-up: the audit log's own guards forbid emptying it, so a new database. */
async function freshDatabase(): Promise<void> {
  await database?.close();
  database = await createPgliteDatabase(undefined);
  await migrate(database, migrationsDir);
  sequence = 0;
}

const query = (overrides: Partial<StatisticsQuery> = {}): StatisticsQuery => ({
  from: '2026-03-01T00:00:00+08:00',
  to: '2026-03-08T00:00:00+08:00',
  granularity: 'day',
  timeZone: 'Asia/Shanghai',
  groupBy: ['requester', 'provider', 'certificateType'],
  ...overrides,
});

beforeAll(freshDatabase);
afterAll(async () => database?.close());

describe('latency percentiles', () => {
  it('interpolate within fixed log-spaced buckets', () => {
    expect(latencyBucket(0.5)).toBe(0);
    expect(latencyBucket(1)).toBe(1);
    expect(latencyBucket(10)).toBe(LATENCY_BOUNDS_MS.indexOf(10) + 1);
    expect(latencyBucket(500_000)).toBe(LATENCY_BOUNDS_MS.length);
    // 100 lookups between 10 and 15 ms: the median is interpolated half-way.
    const histogram = new Array(LATENCY_BOUNDS_MS.length + 1).fill(0);
    histogram[latencyBucket(12)] = 100;
    expect(quantile(histogram, 0.5)).toBe(12.5);
    expect(quantile(histogram, 0.9)).toBe(14.5);
    expect(quantile(new Array(30).fill(0), 0.5)).toBeNull();
    // Beyond the last bound nothing is known but that it is beyond it.
    const slow = new Array(30).fill(0);
    slow[29] = 1;
    expect(quantile(slow, 0.5)).toBe(120_000);
  });
});

describe('sharing statistics', () => {
  beforeEach(freshDatabase);

  it('counts outcomes, denial reasons and latency per day, requester, provider and type', async () => {
    const day = '2026-03-02T02:00:00Z'; // 10:00 in Shanghai, 2 March
    await append([
      ...Array.from({ length: 90 }, (_, i) => lookup(day, { latencyMs: 10 + (i % 5) })),
      ...Array.from({ length: 10 }, () => lookup(day, { latencyMs: 400 })),
      lookup(day, { outcome: 'denied', status: 403, reason: 'matter-not-allowed', latencyMs: 1 }),
      lookup(day, { outcome: 'denied', status: 403, reason: 'matter-not-allowed', latencyMs: 1 }),
      lookup(day, { outcome: 'denied', status: 429, reason: 'rate-limited', latencyMs: 1 }),
      lookup(day, { outcome: 'not-found', status: 404, reason: 'record-not-found', latencyMs: 20 }),
      lookup(day, { outcome: 'timed-out', status: 504, reason: 'provider-timeout', latencyMs: 5000 }),
      lookup(day, { outcome: 'failed', status: 502, reason: 'invalid-provider-record', latencyMs: 30 }),
      lookup(day, { outcome: 'invalid', status: 400, reason: 'invalid-subject', latencyMs: 1 }),
      lookup(day, { requester: { department: 'market-regulation' } }),
      { kind: 'policy-change', at: day, actor: 'system', action: 'reloaded', target: 'policies' },
    ]);
    await rollUp(database);
    const service = createStatisticsService(database);
    const answer = await service.statistics(query());
    expect(answer.rows).toHaveLength(2);
    const [civil, market] = answer.rows;
    expect(civil).toMatchObject({
      period: '2026-03-02T00:00:00+08:00',
      requester: 'civil-affairs',
      provider: 'public-security',
      certificateType: 'resident-id-card',
      total: 107,
      granted: 100,
      denied: 3,
      notFound: 1,
      failed: 1,
      timedOut: 1,
      invalid: 1,
      deniedByReason: { 'matter-not-allowed': 2, 'rate-limited': 1 },
    });
    // Latency of the 101 lookups the department answered (granted, not found): 90 fast, 11 slower.
    expect(civil?.latencyMs.p50).toBeGreaterThanOrEqual(10);
    expect(civil?.latencyMs.p50).toBeLessThan(15);
    expect(civil?.latencyMs.p95).toBeGreaterThanOrEqual(300);
    expect(civil?.latencyMs.p95).toBeLessThan(500);
    expect(civil?.latencyMs.mean).toBeCloseTo((90 * 12 + 10 * 400 + 20) / 101, 1);
    expect(market).toMatchObject({ requester: 'market-regulation', total: 1, granted: 1 });
    expect(answer.totals).toMatchObject({ total: 108, granted: 101, denied: 3 });

    const byRequester = await service.statistics(query({ groupBy: ['requester'], granularity: 'month' }));
    expect(byRequester.rows.map((row) => [row.period, row.requester, row.total])).toEqual([
      ['2026-03-01T00:00:00+08:00', 'civil-affairs', 107],
      ['2026-03-01T00:00:00+08:00', 'market-regulation', 1],
    ]);
    expect(byRequester.rows[0]).not.toHaveProperty('provider');

    const filtered = await service.statistics(query({ requester: 'market-regulation', groupBy: [] }));
    expect(filtered.rows).toEqual([expect.objectContaining({ total: 1 })]);
  });

  it('puts days, weeks and months at Shanghai midnight, not UTC midnight', async () => {
    await append([
      lookup('2026-02-28T15:59:59.999Z'), // 23:59:59 on 28 February in Shanghai
      lookup('2026-02-28T16:00:00.000Z'), // 00:00 on 1 March (a Sunday) in Shanghai
      lookup('2026-03-01T15:59:59.000Z'), // still 1 March in Shanghai
      lookup('2026-03-01T16:00:00.000Z'), // 00:00 on Monday 2 March
    ]);
    await rollUp(database);
    const service = createStatisticsService(database);
    const range = { from: '2026-02-20T00:00:00Z', to: '2026-03-10T00:00:00Z', groupBy: [] };
    const periods = async (granularity: StatisticsQuery['granularity'], timeZone = 'Asia/Shanghai') =>
      (await service.statistics(query({ ...range, granularity, timeZone }))).rows.map((row) => [
        row.period,
        row.total,
      ]);
    expect(await periods('day')).toEqual([
      ['2026-02-28T00:00:00+08:00', 1],
      ['2026-03-01T00:00:00+08:00', 2],
      ['2026-03-02T00:00:00+08:00', 1],
    ]);
    expect(await periods('week')).toEqual([
      ['2026-02-23T00:00:00+08:00', 3],
      ['2026-03-02T00:00:00+08:00', 1],
    ]);
    expect(await periods('month')).toEqual([
      ['2026-02-01T00:00:00+08:00', 1],
      ['2026-03-01T00:00:00+08:00', 3],
    ]);
    expect(await periods('day', 'UTC')).toEqual([
      ['2026-02-28T00:00:00Z', 2],
      ['2026-03-01T00:00:00Z', 2],
    ]);
    expect(await periods('hour')).toEqual([
      ['2026-02-28T23:00:00+08:00', 1],
      ['2026-03-01T00:00:00+08:00', 1],
      ['2026-03-01T23:00:00+08:00', 1],
      ['2026-03-02T00:00:00+08:00', 1],
    ]);
  });

  it('gives the same answer from roll-up plus tail as from the log alone, at any watermark', async () => {
    const outcomes: LookupOutcome[] = ['granted', 'granted', 'granted', 'denied', 'not-found', 'timed-out'];
    const events = Array.from({ length: 600 }, (_, i) => {
      const outcome = outcomes[i % outcomes.length] as LookupOutcome;
      return lookup(new Date(Date.UTC(2026, 2, 1) + i * 977_000).toISOString(), {
        requester: { department: ['civil-affairs', 'market-regulation', 'tax'][i % 3] as string },
        provider: ['public-security', 'civil-affairs'][i % 2],
        certificateType: ['resident-id-card', 'marriage-certificate'][i % 2],
        outcome,
        reason: outcome === 'denied' ? ['no-policy', 'rate-limited'][i % 2] : undefined,
        latencyMs: (i * 37) % 3000,
      });
    });
    await append(events.slice(0, 400));
    const service = createStatisticsService(database);
    // Not on whole hours: the part-hours at either end come from the log.
    const ask = query({ from: '2026-03-01T03:17:00Z', to: '2026-03-07T05:41:30Z', granularity: 'hour' });
    const fromLogOnly = async () => {
      const fresh = await createPgliteDatabase(undefined);
      try {
        await migrate(fresh, migrationsDir);
        await fresh.query(
          `INSERT INTO audit_events (sequence, prev_hash, hash, event)
           SELECT n, repeat('0', 64), repeat('0', 64), e FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)`,
          [JSON.stringify(events)],
        );
        return await createStatisticsService(fresh).statistics(ask);
      } finally {
        await fresh.close();
      }
    };
    await rollUpOnce(database, 150); // part of the log folded, the rest is the tail
    await append(events.slice(400));
    const mixed = await service.statistics(ask);
    await rollUp(database); // all of it folded
    const folded = await service.statistics(ask);
    const expected = await fromLogOnly();
    expect(mixed).toEqual(expected);
    expect(folded).toEqual(expected);
    const inRange = events.filter((e) => e.at >= '2026-03-01T03:17:00Z' && e.at < '2026-03-07T05:41:30Z');
    expect(expected.totals.total).toBe(inRange.length);
    expect(expected.totals.denied).toBe(inRange.filter((e) => e.outcome === 'denied').length);
  });

  it('does not count an event twice when two roll-ups run at once', async () => {
    await append(Array.from({ length: 300 }, (_, i) => lookup(`2026-03-02T0${i % 10}:00:00Z`)));
    await Promise.all([rollUp(database, 40), rollUp(database, 70), rollUpOnce(database, 1000)]);
    await rollUp(database);
    const { rows } = await database.query<{ lookups: string; last: string }>(
      'SELECT (SELECT sum(lookups) FROM statistics_lookup_hours) AS lookups, last_sequence AS last FROM statistics_rollup_state',
    );
    expect(Number(rows[0]?.lookups)).toBe(300);
    expect(Number(rows[0]?.last)).toBe(300);
    const answer = await createStatisticsService(database).statistics(query({ groupBy: [] }));
    expect(answer.totals.total).toBe(300);
  });

  it('rebuilds the roll-up when its bucket layout is not the current one', async () => {
    await append([lookup('2026-03-02T02:00:00Z'), lookup('2026-03-02T03:00:00Z')]);
    await rollUp(database);
    await database.query("UPDATE statistics_rollup_state SET layout = 'v0'");
    const service = createStatisticsService(database);
    expect((await service.statistics(query())).totals.total).toBe(2);
    const run = await rollUpOnce(database);
    expect(run).toMatchObject({ rebuilt: true, folded: 2 });
    expect((await service.statistics(query())).totals.total).toBe(2);
  });
});

describe('the department scorecard', () => {
  beforeAll(freshDatabase);

  it('scores providers on deadline, availability, latency and refused replies, requesters on denials', async () => {
    const at = '2026-03-02T02:00:00Z';
    await append([
      ...Array.from({ length: 8 }, () => lookup(at, { latencyMs: 40 })),
      lookup(at, { outcome: 'timed-out', reason: 'provider-timeout', latencyMs: 5000 }),
      lookup(at, { outcome: 'failed', reason: 'invalid-provider-reply', latencyMs: 30 }),
      lookup(at, { outcome: 'denied', reason: 'no-policy', latencyMs: 1 }),
    ]);
    const departments = ['public-security', 'civil-affairs'];
    const registry = { listRegistrations: async () => departments.map((department) => ({ department })) };
    const live = (department: string, instanceId: string, isLive = true) => ({
      department,
      instanceId,
      live: isLive,
      lastSeen: at,
      certificateTypes: [],
    });
    const sampler = {
      database,
      registry: registry as never,
      logger: createLogger('silent'),
      instances: () => [live('public-security', 'a'), live('public-security', 'b', false)],
    };
    const minute = (m: number) => Date.parse('2026-03-02T02:00:00Z') + m * 60_000 + 1234;
    for (let m = 0; m < 4; m += 1) await sampleAvailability(sampler, minute(m));
    // A second gateway instance that saw civil-affairs live in minute 0: the larger count wins.
    await sampleAvailability({ ...sampler, instances: () => [live('civil-affairs', 'c')] }, minute(0));
    await sampleAvailability(sampler, minute(0));

    const card = await createStatisticsService(database).scorecard(
      '2026-03-02T00:00:00Z',
      '2026-03-03T00:00:00Z',
    );
    expect(card.providers).toEqual([
      {
        department: 'civil-affairs',
        lookups: 0,
        answeredWithinDeadline: null,
        timedOut: 0,
        availability: 0.25,
        observedMinutes: 4,
        latencyMs: { p50: null, p95: null },
        schemaRejectedReplies: 0,
      },
      {
        department: 'public-security',
        lookups: 10,
        answeredWithinDeadline: 0.9,
        timedOut: 1,
        availability: 1,
        observedMinutes: 4,
        latencyMs: { p50: expect.any(Number), p95: expect.any(Number) },
        schemaRejectedReplies: 1,
      },
    ]);
    expect(card.providers[1]?.latencyMs.p50).toBeGreaterThanOrEqual(30);
    expect(card.providers[1]?.latencyMs.p50).toBeLessThan(50);
    expect(card.requesters).toEqual([
      { department: 'civil-affairs', lookups: 11, denied: 1, deniedByReason: { 'no-policy': 1 } },
    ]);
    expect(liveInstancesByDepartment(['x'], sampler.instances())).toEqual(new Map([['x', 0]]));
  });
});
