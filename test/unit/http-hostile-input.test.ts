/**
 * Hostile input that used to answer 500 answers a 4xx problem with a stable type, for every route,
 * because each is handled where all requests pass: the body reader (gateway/http/json-body.ts),
 * the problem mapping (gateway/http/problem.ts) and the input reader's date parsing.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { Router } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/foundation/config.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { createApp } from '../../gateway/http/app.js';
import { createHttpServer } from '../../gateway/http/http-server.js';
import { bodyObject, InputReader, parseDateTime } from '../../gateway/http/input-reader.js';
import {
  checkJsonValue,
  DEFAULT_MAX_JSON_DEPTH,
  JsonTooDeepError,
  UnreadableBody,
} from '../../gateway/http/json-body.js';
import { parseLookupRequest } from '../../gateway/lookups/lookup-request.js';

const PROBLEM = 'https://silobridge.dev/problems/';

let server: Server;
let base: string;

/** Routes standing in for the gateway's: a path parameter, a body echo, and a "lookup" that reports what reached it. */
function testRouter(): Router {
  return Router()
    .get('/v1/items/:id', (req, res) => {
      res.json({ id: req.params.id });
    })
    .post('/v1/echo', (req, res) => {
      res.json({ body: bodyObject(req.body) });
    })
    .get('/v1/search', (req, res) => {
      const reader = new InputReader(req.query as Record<string, unknown>);
      const from = reader.dateTime('from');
      const to = reader.dateTime('to');
      reader.rejectUnknown();
      reader.done('The search');
      res.json({ from, to });
    })
    .post('/v1/lookups', (req, res) => {
      // The real route authenticates first, then the lookup service parses (and audits) the body.
      const body: unknown = req.body;
      res.json({ unreadable: body instanceof UnreadableBody ? body.error.type : null });
    });
}

beforeAll(async () => {
  const app = createApp({
    logger: createLogger('silent'),
    bodyLimitBytes: 4096,
    routers: [testRouter()],
  });
  server = createHttpServer(app, loadConfig({}).http);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const deepArrays = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const deepObjects = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

function post(path: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body,
  });
}

async function expectProblem(response: Response, status: number, type: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = (await response.json()) as Record<string, unknown>;
  expect(problem).toMatchObject({ type: PROBLEM + type, status });
  expect(typeof problem.title).toBe('string');
  expect(typeof problem.detail).toBe('string');
  return problem;
}

describe('path parameters', () => {
  it.each(['%E0%A4%A', '%ZZ', '%', 'a%2', '%C3%28', '%FF'])(
    'answers malformed percent-encoding (%s) with 400 malformed-path, not quoting it',
    async (segment) => {
      const problem = await expectProblem(await fetch(`${base}/v1/items/${segment}`), 400, 'malformed-path');
      expect(problem.detail).toMatch(/^The request path has a malformed percent-encoding/);
    },
  );

  it('still decodes good percent-encoding', async () => {
    const response = await fetch(`${base}/v1/items/${encodeURIComponent('a/b c 林')}`);
    expect(await response.json()).toEqual({ id: 'a/b c 林' });
  });
});

describe('Content-Encoding', () => {
  const body = JSON.stringify({ hello: 'world' });

  it.each([
    ['gzip', gzipSync(body)],
    ['deflate', deflateSync(body)],
    ['br', brotliCompressSync(body)],
  ])('decodes a %s body', async (coding, compressed) => {
    const response = await post('/v1/echo', compressed, { 'Content-Encoding': coding });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ body: { hello: 'world' } });
  });

  it.each(['gzip', 'deflate', 'br'])(
    'answers a body that is not the %s it claims with 400 invalid-content-encoding',
    async (coding) => {
      const problem = await expectProblem(
        await post('/v1/echo', body, { 'Content-Encoding': coding }),
        400,
        'invalid-content-encoding',
      );
      expect(problem.detail).toContain(coding);
    },
  );

  it('answers a truncated gzip body with 400 invalid-content-encoding', async () => {
    const truncated = gzipSync(body).subarray(0, 12);
    await expectProblem(
      await post('/v1/echo', truncated, { 'Content-Encoding': 'gzip' }),
      400,
      'invalid-content-encoding',
    );
  });

  it('answers an encoding it cannot decode with 415 naming the ones it can', async () => {
    const response = await post('/v1/echo', body, { 'Content-Encoding': 'x-compress' });
    const problem = await expectProblem(response, 415, 'unsupported-content-encoding');
    expect(response.headers.get('accept-encoding')).toMatch(/^gzip, deflate, br/);
    expect(problem.detail).toContain("'x-compress'");
  });

  it('answers a charset it cannot decode with 415 unsupported-media-type', async () => {
    await expectProblem(
      await post('/v1/echo', body, { 'Content-Type': 'application/json; charset=klingon' }),
      415,
      'unsupported-media-type',
    );
  });
});

describe('JSON nesting', () => {
  const nestsDeeperThan = (value: unknown, maxDepth: number) =>
    checkJsonValue(value, maxDepth) instanceof JsonTooDeepError;

  it('measures depth without recursing, at any depth', () => {
    expect(nestsDeeperThan(JSON.parse(deepArrays(32)), 32)).toBe(false);
    expect(nestsDeeperThan(JSON.parse(deepArrays(33)), 32)).toBe(true);
    expect(nestsDeeperThan(JSON.parse(deepObjects(200_000)), 32)).toBe(true);
    expect(nestsDeeperThan({ a: [1, { b: null }], c: 'x' }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [1, { b: [] }] }, 3)).toBe(true);
    expect(nestsDeeperThan('scalar', 0)).toBe(false);
  });

  it.each([
    ['arrays', deepArrays(10_000)],
    ['objects', deepObjects(10_000)],
    ['a subject', `{"subject":{"residentIdNumber":${deepObjects(10_000)}}}`],
  ])('answers 10,000 nested %s with 400 json-too-deep', async (_what, body) => {
    const limited = createApp({
      logger: createLogger('silent'),
      bodyLimitBytes: 1_000_000,
      routers: [testRouter()],
    });
    const local = createHttpServer(limited, loadConfig({}).http);
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(local.address() as AddressInfo).port}/v1/echo`;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      const problem = await expectProblem(response, 400, 'json-too-deep');
      expect(problem.maxDepth).toBe(DEFAULT_MAX_JSON_DEPTH);
    } finally {
      local.closeAllConnections();
      await new Promise((resolve) => local.close(resolve));
    }
  });

  it('accepts nesting up to the limit', async () => {
    const response = await post('/v1/echo', `{"a":${deepArrays(DEFAULT_MAX_JSON_DEPTH - 1)}}`);
    expect(response.status).toBe(200);
  });
});

describe('characters no store can keep', () => {
  it.each([
    ['a NUL in a value', '{"a":{"b/c":["x","y\\u0000"]}}', '/a/b~1c/1'],
    ['a lone high surrogate', '{"a":"\\ud800x"}', '/a'],
    ['a lone low surrogate', '["\\udc00"]', '/0'],
    ['a NUL in a member name', '{"a":{"\\u0000":1}}', '/a'],
  ])(
    'answers %s in the body with 400 unsupported-character, pointing at it',
    async (_what, body, pointer) => {
      const problem = await expectProblem(await post('/v1/echo', body), 400, 'unsupported-character');
      expect(problem.errors).toEqual([{ pointer, reason: expect.any(String) }]);
    },
  );

  it('takes a surrogate pair (an emoji) as it is', async () => {
    const response = await post('/v1/echo', '{"a":"\\ud83d\\udca5"}');
    expect(await response.json()).toEqual({ body: { a: '💥' } });
  });

  it.each(['/v1/items/a%00b', '/v1/search?from=%00'])(
    'answers %%00 in the URL (%s) with 400',
    async (url) => {
      await expectProblem(await fetch(`${base}${url}`), 400, 'unsupported-character');
    },
  );
});

describe('a lookup whose body cannot be read', () => {
  const credentials = { Authorization: 'Bearer anything' };

  it.each([
    ['malformed JSON', '{"subject":', {}, 'malformed-json'],
    ['too deep', deepArrays(100), {}, 'json-too-deep'],
    ['too large', JSON.stringify({ pad: 'x'.repeat(5000) }), {}, 'payload-too-large'],
    ['not JSON', 'a=b', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'unsupported-media-type'],
    ['not the gzip it claims', '{}', { 'Content-Encoding': 'gzip' }, 'invalid-content-encoding'],
    ['a NUL in a string', '{"subject":{"id":"\\u0000"}}', {}, 'unsupported-character'],
  ])(
    'reaches the route (to be authenticated and audited) when it carries credentials: %s',
    async (_what, body, headers, type) => {
      for (const path of ['/v1/lookups', '/v1/lookups/', '/V1/Lookups']) {
        const response = await post(path, body, { ...credentials, ...headers });
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ unreadable: PROBLEM + type });
      }
    },
  );

  it('reaches the route too when the URL holds %00', async () => {
    const response = await post('/v1/lookups?x=%00', '{}', credentials);
    expect(await response.json()).toEqual({ unreadable: `${PROBLEM}unsupported-character` });
  });

  it('is answered at once without credentials, like any other route', async () => {
    await expectProblem(await post('/v1/lookups', '{"subject":'), 400, 'malformed-json');
    await expectProblem(await post('/v1/echo', '{"subject":', credentials), 400, 'malformed-json');
  });

  it('is refused by the lookup parser with its own problem', () => {
    const unreadable = new UnreadableBody(new JsonTooDeepError(3));
    expect(() => parseLookupRequest(unreadable)).toThrow(unreadable.error);
  });
});

describe('date-time parameters', () => {
  it.each([
    ['0000-01-01T00:00:00Z', 'is out of range'],
    ['0001-01-01T00:30:00+01:00', 'is out of range'],
    ['9999-12-31T23:59:59-00:01', 'is out of range'],
    ['2026-02-31T00:00:00Z', 'is not a real date and time'],
    ['2026-02-29T00:00:00Z', 'is not a real date and time'],
    ['2100-02-29T00:00:00Z', 'is not a real date and time'],
    ['2026-13-01T00:00:00Z', 'is not a real date and time'],
    ['2026-01-01T24:00:00Z', 'is not a real date and time'],
    ['2026-01-01T23:60:00Z', 'is not a real date and time'],
    ['2026-01-01T23:59:60Z', 'is not a real date and time'],
    ['2026-01-01T00:00:00+24:00', 'is not a real date and time'],
    ['2026-01-01T00:00:00+05:60', 'is not a real date and time'],
    ['2026-01-01', 'must be an RFC 3339 date-time'],
  ])('refuses %s with 400 naming the parameter', async (value, reason) => {
    const response = await fetch(`${base}/v1/search?to=${encodeURIComponent(value)}`);
    const problem = await expectProblem(response, 400, 'invalid-request');
    expect(problem.errors).toEqual([{ pointer: '/to', reason: expect.stringContaining(reason) }]);
  });

  it.each([
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999999999Z', '9999-12-31T23:59:59.999Z'],
    ['2024-02-29T12:00:00.5+05:30', '2024-02-29T06:30:00.500Z'],
    ['2000-02-29T00:00-01:00', '2000-02-29T01:00:00.000Z'],
    ['0099-03-01T00:00:00Z', '0099-03-01T00:00:00.000Z'],
  ])('accepts %s as %s', async (value, iso) => {
    const response = await fetch(`${base}/v1/search?from=${encodeURIComponent(value)}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ from: iso });
    expect(parseDateTime(value)).toEqual({ time: new Date(iso) });
  });
});
