/**
 * Hostile callers against a whole gateway (real PostgreSQL and Kafka): property-based fuzzing of the
 * main routes' bodies, query strings, path parameters and headers. Whatever comes in, the answer is
 * never a 5xx (but a 503 the service means: no connector, audit or bus unavailable), the gateway
 * keeps running, and every error is RFC 9457 problem JSON. Also: a lookup whose body cannot be read,
 * from an authenticated caller, is still an audit event; an out-of-range date is a 400 naming it.
 *
 * The number of runs per route is small so CI stays fast; set HOSTILE_FUZZ_RUNS for a longer hunt.
 * A failure prints fast-check's seed and the shrunk request: replay with `{ seed, path }`.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/gateway.js';
import { demoToken, TEST_MATTER } from '../support/gateway-auth.js';
import { CERTIFICATE_TYPES, lookupBody, PURPOSE } from '../support/lookup-fixtures.js';
import {
  createTestGatewayEnvironment,
  OPERATOR,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const PROBLEM = 'https://silobridge.dev/problems/';
const RUNS = Number(process.env.HOSTILE_FUZZ_RUNS ?? 60);
/** The 503s a service answers on purpose: something it depends on is not there. Any other 5xx is a bug. */
const UNAVAILABLE = new Set(
  ['connector-not-registered', 'no-live-connector', 'audit-unavailable', 'bus-unavailable', 'not-ready'].map(
    (name) => PROBLEM + name,
  ),
);
const AUDITOR = 'data-office/audit-console';

let env: TestGatewayEnvironment;
let gateway: RunningGateway;
const tokens: Record<'lookup' | 'audit' | 'admin', string> = { lookup: '', audit: '', admin: '' };

beforeAll(async () => {
  env = await createTestGatewayEnvironment(`hostile-${Date.now()}`);
  gateway = await env.start('hostile-1', {
    SILOBRIDGE_BODY_LIMIT_BYTES: '65536',
    // Department connectors that answer, so lookups go all the way: over Kafka and back.
    SILOBRIDGE_SAMPLE_CONNECTORS: 'true',
  });
  tokens.lookup = await demoToken(env.dataDir);
  tokens.audit = await demoToken(env.dataDir, AUDITOR);
  tokens.admin = await demoToken(env.dataDir, OPERATOR);
});

afterAll(async () => {
  await env?.cleanup();
});

// ---- what a hostile request is made of ----

/** encodeURIComponent, for any string (a lone surrogate, which it refuses, is sent as %ED%A0%80). */
const encode = (value: string) =>
  value
    .split(/([\uD800-\uDFFF])/)
    .map((part) => (/^[\uD800-\uDFFF]$/.test(part) ? '%ED%A0%80' : encodeURIComponent(part)))
    .join('');

const ODD_STRINGS = [
  '',
  ' ',
  '%',
  '%zz',
  '%E0%A4%A',
  '..',
  '\u0000',
  '\uD800',
  '💥',
  '__proto__',
  'constructor',
  '-1',
  '1e309',
  'NaN',
  'resident-id-card',
  'public-security',
  TEST_MATTER,
  '2026-05-01T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59-12:00',
  '2026-02-31T00:00:00Z',
  'eyJ2IjoxLCJvIjoiYXNjIiwicyI6LTF9',
];
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(...ODD_STRINGS),
);
const deepText = (levels: number, style: 'array' | 'object') =>
  style === 'array'
    ? `${'['.repeat(levels)}${']'.repeat(levels)}`
    : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
/** A JSON value as text: plain, nested past the limit, or a fixture's. */
const valueText = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value) ?? 'null') },
  { weight: 2, arbitrary: text.map((value) => JSON.stringify(value)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 20, max: 5000 }), fc.constantFrom('array' as const, 'object' as const))
      .map(([levels, style]) => deepText(levels, style)),
  },
);
/**
 * An object of the given members, each mostly present, mostly with a fitting value (`fit` to 1), else
 * anything at all; now and then with a member of another name.
 */
function shaped(members: Record<string, fc.Arbitrary<string>>, fit = 3): fc.Arbitrary<string> {
  const entries = Object.entries(members).map(([name, fitting]) =>
    fc.option(
      fc.tuple(
        fc.constant(name),
        fc.oneof({ weight: fit, arbitrary: fitting }, { weight: 1, arbitrary: valueText }),
      ),
      { nil: undefined, freq: 8 },
    ),
  );
  const extra = fc.oneof(
    { weight: 5, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.tuple(text, valueText) },
  );
  return fc.tuple(fc.tuple(...entries), extra).map(
    ([present, more]) =>
      `{${[...present, more]
        .filter((entry): entry is [string, string] => entry !== undefined)
        .map(([name, value]) => `${JSON.stringify(name)}:${value}`)
        .join(',')}}`,
  );
}
const json = (value: unknown) => fc.constant(JSON.stringify(value));
/** A lookup: mostly one that could be answered (a real type with its own subject), then bent. */
const lookupShape = fc.constantFrom(...CERTIFICATE_TYPES).chain((type) => {
  const [identifier = 'id', value = ''] = Object.entries(lookupBody(type).subject)[0] ?? [];
  return shaped(
    {
      certificateType: fc
        .constantFrom(type, ...CERTIFICATE_TYPES, 'no-such-type')
        .map((name) => JSON.stringify(name)),
      subject: fc.oneof(
        { weight: 3, arbitrary: json({ [identifier]: value }) },
        { weight: 2, arbitrary: text.map((odd) => JSON.stringify({ [identifier]: odd })) },
        {
          weight: 1,
          arbitrary: shaped({ [identifier]: json(value), residentIdNumber: json('35010219850101123X') }),
        },
      ),
      purpose: fc.oneof(
        { weight: 6, arbitrary: json(PURPOSE) },
        {
          weight: 1,
          arbitrary: shaped({ matter: json(TEST_MATTER), caseRef: json('C-1'), officer: json('o-1') }),
        },
      ),
      fields: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('["name"]', '["status","name"]', '["status"]') },
        { weight: 1, arbitrary: fc.constantFrom('[]', '["nope"]', '["name","name"]') },
      ),
    },
    12,
  );
});
const searchShape = shaped({
  kind: fc.constantFrom('"lookup"', '["lookup","audit-access"]', '"nope"'),
  requester: json('service-centre/approval'),
  provider: json('public-security'),
  certificateType: json('resident-id-card'),
  type: json('marriage-certificate'),
  outcome: fc.constantFrom('"granted"', '["invalid","denied"]'),
  matter: json(TEST_MATTER),
  lookupId: json('79787af2-0000-0000-0000-000000000000'),
  from: text.map((value) => JSON.stringify(value)),
  to: text.map((value) => JSON.stringify(value)),
  limit: fc.oneof(fc.integer().map(String), json('10')),
  order: fc.constantFrom('"asc"', '"desc"', '"up"'),
  cursor: text.map((value) => JSON.stringify(value)),
  subject: fc.oneof(json({ residentIdNumber: '35010219850101123X' }), json({ a: 1 }), json({})),
});
const connectorShape = shaped({
  department: fc.constantFrom('"public-security"', '"civil-affairs"', '"nope"', '"PUBLIC"'),
  certificateTypes: fc.oneof(
    json([{ certificateType: 'resident-id-card' }]),
    json([{ certificateType: 'resident-id-card', schemaVersion: 99 }]),
    json([{ certificateType: 'resident-id-card' }, { certificateType: 'resident-id-card' }]),
    json([]),
  ),
});

/** A change subscription: a lookup's parts, an end date and a delivery, each bent now and then. */
const subscriptionShape = shaped({
  certificateType: fc.constantFrom(...CERTIFICATE_TYPES, 'no-such-type').map((name) => JSON.stringify(name)),
  subject: fc.oneof(
    json({ unifiedSocialCreditCode: '91350100M000100Y43' }),
    text.map((odd) => JSON.stringify({ residentIdNumber: odd })),
  ),
  purpose: json(PURPOSE),
  endsAt: fc.oneof(
    json(new Date(Date.now() + 86_400_000).toISOString()),
    fc.constantFrom('"2020-01-01T00:00:00Z"', '"9999-12-31T23:59:60Z"', '"0000-00-00"', '"tomorrow"'),
    text.map((odd) => JSON.stringify(odd)),
  ),
  delivery: fc.oneof(
    json({ method: 'stream' }),
    text.map((odd) => JSON.stringify({ method: 'webhook', target: odd })),
    text.map((odd) => JSON.stringify({ method: 'webhook', url: `http://${odd}` })),
  ),
});
const webhookTargetShape = shaped({
  url: fc.oneof(
    json('https://approvals.example.org/notices'),
    text.map((odd) => JSON.stringify(`https://example.org/${odd}`)),
    text.map((odd) => JSON.stringify(odd)),
  ),
});

/** A body as bytes: shaped for the route, any JSON, or not JSON (nor UTF-8) at all. */
const bodyOf = (shape: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 8, arbitrary: shape.map((body) => Buffer.from(body)) },
    { weight: 2, arbitrary: valueText.map((body) => Buffer.from(body)) },
    { weight: 1, arbitrary: fc.string().map((body) => Buffer.from(body)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
  );

const headerValue = fc.stringMatching(/^[!-~]([ -~]{0,80}[!-~])?$/);
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=UTF-16',
  'application/json; charset=latin1',
  'application/json; charset',
  'application/json;;',
  'application/problem+json',
  'application/merge-patch+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '*/*',
];
const CODINGS = ['gzip', 'deflate', 'br', 'identity', 'zstd', 'x-compress', 'gzip, br', 'GZIP'];
const COMPRESS: Record<string, (body: Buffer) => Buffer> = {
  gzip: gzipSync,
  deflate: deflateSync,
  br: brotliCompressSync,
};

interface HostileHeaders {
  auth: 'role' | 'other-role' | 'none' | 'garbage';
  garbage: string;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  compress: boolean;
  extra: Record<string, string>;
}
/** Mostly what a real client sends, so requests get past the door; now and then anything. */
const headers: fc.Arbitrary<HostileHeaders> = fc.record({
  auth: fc.oneof(
    { weight: 8, arbitrary: fc.constant('role' as const) },
    { weight: 1, arbitrary: fc.constantFrom('other-role' as const, 'none' as const, 'garbage' as const) },
  ),
  garbage: fc.oneof(
    headerValue,
    fc.constantFrom('Bearer', 'Bearer a.b.c', 'Basic Zm9vOmJhcg==', 'Bearer eyJ.eyJ.'),
  ),
  contentType: fc.oneof(
    { weight: 10, arbitrary: fc.constant('application/json') },
    { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    { weight: 1, arbitrary: fc.option(headerValue, { nil: undefined }) },
  ),
  contentEncoding: fc.oneof(
    { weight: 10, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.constantFrom(...CODINGS) },
    { weight: 1, arbitrary: headerValue },
  ),
  compress: fc.oneof(
    { weight: 3, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  extra: fc.dictionary(
    fc.oneof(
      fc.constantFrom(
        'x-request-id',
        'accept',
        'accept-encoding',
        'accept-language',
        'x-forwarded-for',
        'range',
        'if-none-match',
      ),
      fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
    ),
    headerValue,
    { maxKeys: 4 },
  ),
});

type Role = keyof typeof tokens;
const OTHER_ROLE: Record<Role, Role> = { lookup: 'audit', audit: 'admin', admin: 'lookup' };

/** A path segment: encoded text, or raw odd bytes and percent signs. */
const segment = fc.oneof(
  { weight: 3, arbitrary: text.map(encode) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '%',
      '%zz',
      '%E0%A4%A',
      '%C3%28',
      '%FF',
      '%00',
      '%2F',
      '..',
      '.',
      'a%2',
      '%25',
    ),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,30}$/) },
);
/** A query string: known and unknown names, repeated or not, values odd or raw. */
const queryOf = (names: string[]) =>
  fc
    .array(
      fc.tuple(
        fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, text.map(encode)),
        fc.oneof(text.map(encode), segment),
      ),
      { maxLength: 6 },
    )
    .map((pairs) =>
      pairs.length === 0 ? '' : `?${pairs.map(([name, value]) => `${name}=${value}`).join('&')}`,
    );

// ---- sending one and judging the answer ----

interface HostileRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  role: Role;
  body?: Buffer;
  headers: HostileHeaders;
}

function headersFor(request: HostileRequest): Record<string, string> {
  const { headers: h } = request;
  const sent: Record<string, string> = { ...h.extra };
  if (h.auth === 'role') sent.authorization = `Bearer ${tokens[request.role]}`;
  if (h.auth === 'other-role') sent.authorization = `Bearer ${tokens[OTHER_ROLE[request.role]]}`;
  if (h.auth === 'garbage') sent.authorization = h.garbage;
  if (request.body !== undefined) {
    if (h.contentType !== undefined) sent['content-type'] = h.contentType;
    if (h.contentEncoding !== undefined) sent['content-encoding'] = h.contentEncoding;
  }
  return sent;
}

function bodyFor(request: HostileRequest): Buffer | undefined {
  const coding = request.headers.contentEncoding;
  const compress = coding === undefined ? undefined : COMPRESS[coding];
  if (request.body === undefined || !request.headers.compress || !compress) return request.body;
  return compress(request.body);
}

async function send(request: HostileRequest): Promise<void> {
  const response = await fetch(`${gateway.url}${request.path}`, {
    method: request.method,
    headers: headersFor(request),
    ...(request.body === undefined ? {} : { body: bodyFor(request) }),
  });
  const text = await response.text();
  const context = `${request.method} ${request.path} -> ${response.status} ${text.slice(0, 300)}`;
  if (response.status < 400) return;
  expect(response.headers.get('content-type'), context).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(text) as Record<string, unknown>;
  expect(String(problem.type), context).toMatch(/^https:\/\/silobridge\.dev\/problems\/[a-z0-9-]+$/);
  expect(problem.status, context).toBe(response.status);
  expect(typeof problem.title, context).toBe('string');
  expect(typeof problem.detail, context).toBe('string');
  if (response.status >= 500) {
    expect(response.status === 503 && UNAVAILABLE.has(String(problem.type)), context).toBe(true);
  }
}

function fuzz(requests: fc.Arbitrary<HostileRequest>): Promise<void> {
  return fc.assert(fc.asyncProperty(requests, send), { numRuns: RUNS });
}

// ---- the routes ----

describe('fuzzing: never a 5xx, always problem JSON', () => {
  it('POST /v1/lookups', () =>
    fuzz(
      fc.record({
        method: fc.constant('POST' as const),
        path: fc.oneof(
          { weight: 8, arbitrary: fc.constant('/v1/lookups') },
          { weight: 1, arbitrary: fc.constantFrom('/v1/lookups/', '/V1/LOOKUPS', '/v1/lookups?x=1') },
        ),
        role: fc.constant('lookup' as const),
        body: bodyOf(lookupShape),
        headers,
      }),
    ));

  it('POST /v1/lookups:batch', () =>
    fuzz(
      fc.record({
        method: fc.constant('POST' as const),
        path: fc.oneof(
          { weight: 8, arbitrary: fc.constant('/v1/lookups:batch') },
          { weight: 1, arbitrary: fc.constantFrom('/v1/lookups%3Abatch', '/v1/lookups:batch/') },
        ),
        role: fc.constant('lookup' as const),
        body: bodyOf(
          fc.oneof(
            fc
              .array(fc.oneof(lookupShape, valueText), { maxLength: 5 })
              .map((items) => `{"lookups":[${items.join(',')}]}`),
            shaped({ lookups: valueText }),
          ),
        ),
        headers,
      }),
    ));

  it('POST /v1/audit/events/search', () =>
    fuzz(
      fc.record({
        method: fc.constant('POST' as const),
        path: fc.constant('/v1/audit/events/search'),
        role: fc.constant('audit' as const),
        body: bodyOf(searchShape),
        headers,
      }),
    ));

  it('GET /v1/audit/events with a query', () =>
    fuzz(
      fc.record({
        method: fc.constant('GET' as const),
        path: queryOf([
          'kind',
          'requester',
          'provider',
          'certificateType',
          'type',
          'outcome',
          'matter',
          'lookupId',
          'from',
          'to',
          'limit',
          'order',
          'cursor',
        ]).map((query) => `/v1/audit/events${query}`),
        role: fc.constant('audit' as const),
        headers,
      }),
    ));

  it('GET /v1/audit/events/{sequence} and POST /v1/audit/subjects/report', () =>
    fuzz(
      fc.oneof(
        fc.record({
          method: fc.constant('GET' as const),
          path: segment.map((value) => `/v1/audit/events/${value}`),
          role: fc.constant('audit' as const),
          headers,
        }),
        fc.record({
          method: fc.constant('POST' as const),
          path: fc.constant('/v1/audit/subjects/report'),
          role: fc.constant('audit' as const),
          body: bodyOf(searchShape),
          headers,
        }),
      ),
    ));

  it('GET /v1/catalog/{type}', () =>
    fuzz(
      fc.record({
        method: fc.constant('GET' as const),
        path: fc
          .tuple(fc.oneof(segment, fc.constantFrom(...CERTIFICATE_TYPES)), queryOf(['version']))
          .map(([type, query]) => `/v1/catalog/${type}${query}`),
        role: fc.constant('lookup' as const),
        headers,
      }),
    ));

  it('POST /v1/connectors and DELETE /v1/connectors/{department}', () =>
    fuzz(
      fc.oneof(
        fc.record({
          method: fc.constant('POST' as const),
          path: fc.constant('/v1/connectors'),
          role: fc.constant('admin' as const),
          body: bodyOf(connectorShape),
          headers,
        }),
        fc.record({
          method: fc.constant('DELETE' as const),
          path: segment.map((value) => `/v1/connectors/${value}`),
          role: fc.constant('admin' as const),
          headers,
        }),
      ),
    ));

  it('GET /v1/systems/{department}/{system}', () =>
    fuzz(
      fc.record({
        method: fc.constant('GET' as const),
        path: fc
          .tuple(segment, segment, fc.constantFrom('', '/keys'))
          .map(([department, system, rest]) => `/v1/systems/${department}/${system}${rest}`),
        role: fc.constant('admin' as const),
        headers,
      }),
    ));

  it('POST, GET and DELETE /v1/subscriptions[/{id}], PUT and DELETE webhook targets', () =>
    fuzz(
      fc.oneof(
        fc.record({
          method: fc.constant('POST' as const),
          path: fc.constant('/v1/subscriptions'),
          role: fc.constant('lookup' as const),
          body: bodyOf(subscriptionShape),
          headers,
        }),
        fc.record({
          method: fc.constantFrom('GET' as const, 'DELETE' as const),
          path: segment.map((value) => `/v1/subscriptions/${value}`),
          role: fc.constant('lookup' as const),
          headers,
        }),
        fc.record({
          method: fc.constant('PUT' as const),
          path: fc
            .tuple(
              fc.oneof(fc.constant('service-centre'), segment),
              fc.oneof(fc.constant('approval'), segment),
              segment,
            )
            .map(
              ([department, system, name]) => `/v1/systems/${department}/${system}/webhook-targets/${name}`,
            ),
          role: fc.constant('admin' as const),
          body: bodyOf(webhookTargetShape),
          headers,
        }),
        fc.record({
          method: fc.constant('DELETE' as const),
          path: segment.map((name) => `/v1/systems/service-centre/approval/webhook-targets/${name}`),
          role: fc.constant('admin' as const),
          headers,
        }),
      ),
    ));

  it('is still up afterwards', async () => {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/v1/catalog`)).status).toBe(200);
  });
});

describe('every lookup attempt is audited, even one whose body cannot be read', () => {
  async function auditedLookup(lookupId: unknown) {
    const response = await fetch(`${gateway.url}/v1/audit/events?kind=lookup&lookupId=${String(lookupId)}`, {
      headers: { authorization: `Bearer ${tokens.audit}` },
    });
    expect(response.status).toBe(200);
    const { events } = (await response.json()) as { events: Array<{ event: Record<string, unknown> }> };
    expect(events).toHaveLength(1);
    return events[0]?.event;
  }

  it.each([
    [
      '10,000 nested levels in the subject',
      `{"certificateType":"resident-id-card","subject":{"residentIdNumber":${deepText(10_000, 'object')}},"purpose":${JSON.stringify(PURPOSE)}}`,
      {},
      400,
      'json-too-deep',
      'invalid',
    ],
    ['malformed JSON', '{"certificateType":', {}, 400, 'malformed-json', 'invalid'],
    [
      'a body over the limit',
      JSON.stringify({ pad: 'x'.repeat(70_000) }),
      {},
      413,
      'payload-too-large',
      'invalid',
    ],
    [
      'a body that is not the gzip it claims',
      '{}',
      { 'content-encoding': 'gzip' },
      400,
      'invalid-content-encoding',
      'invalid',
    ],
  ])('%s', async (_what, body, extra, status, type, outcome) => {
    const response = await fetch(`${gateway.url}/v1/lookups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.lookup}`, ...extra },
      body,
    });
    expect(response.status).toBe(status);
    const problem = (await response.json()) as Record<string, unknown>;
    expect(problem.type).toBe(PROBLEM + type);
    expect(typeof problem.lookupId).toBe('string');
    expect(await auditedLookup(problem.lookupId)).toMatchObject({
      kind: 'lookup',
      requester: { department: 'service-centre', system: 'service-centre/approval' },
      outcome,
      status,
      problemType: PROBLEM + type,
    });
  });

  it('answers an unauthenticated one at once, as before', async () => {
    const response = await fetch(`${gateway.url}/v1/lookups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: deepText(10_000, 'array'),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { type: string }).type).toBe(`${PROBLEM}json-too-deep`);
  });
});

describe('dates PostgreSQL cannot hold', () => {
  it.each(['0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-12:00'])(
    'answer 400 naming the parameter: %s',
    async (value) => {
      for (const name of ['from', 'to']) {
        const response = await fetch(`${gateway.url}/v1/audit/events?${name}=${encodeURIComponent(value)}`, {
          headers: { authorization: `Bearer ${tokens.audit}` },
        });
        expect(response.status).toBe(400);
        const problem = (await response.json()) as { errors: unknown };
        expect(problem.errors).toEqual([
          { pointer: `/${name}`, reason: expect.stringMatching(/^is out of range/) },
        ]);
      }
    },
  );

  it('and the widest range it can hold is searched', async () => {
    const response = await fetch(
      `${gateway.url}/v1/audit/events?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z&limit=1`,
      { headers: { authorization: `Bearer ${tokens.audit}` } },
    );
    expect(response.status).toBe(200);
  });
});
