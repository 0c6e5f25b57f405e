/**
 * The HTTP server's timeouts and limits, over real sockets: slow-header and slow-body clients are cut
 * within the configured time (and told so with a 408 problem), idle and excess connections are
 * closed, and what Node.js answers before the app sees a request is problem JSON too.
 */
import type { Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { Router } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpServerSettings, loadConfig } from '../../gateway/foundation/config.js';
import { ConfigError } from '../../gateway/foundation/errors.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { createApp } from '../../gateway/http/app.js';
import { connectionsCheckingIntervalMs, createHttpServer } from '../../gateway/http/http-server.js';

const PROBLEM = 'https://silobridge.dev/problems/';

/** Small values, so the test waits for fractions of a second. */
const SETTINGS: HttpServerSettings = {
  headersTimeoutMs: 300,
  requestTimeoutMs: 800,
  keepAliveTimeoutMs: 300,
  maxHeaders: 20,
  maxHeaderBytes: 2048,
  maxConnections: 200,
  maxConnectionsPerClient: 0,
};
/**
 * How late a cut may come: Node.js looks for expired requests every few tens of milliseconds here, and
 * a busy test machine adds its own delays. Still far below the minutes an unlimited server allows.
 */
const SLACK_MS = connectionsCheckingIntervalMs(SETTINGS) * 2 + 1000;

let server: Server | undefined;

async function start(settings: Partial<HttpServerSettings> = {}): Promise<number> {
  const app = createApp({
    logger: createLogger('silent'),
    bodyLimitBytes: 1_000_000,
    routers: [
      Router()
        .post('/v1/echo', (req, res) => {
          res.json({ body: req.body });
        })
        .get('/v1/headers', (req, res) => {
          res.json({ count: Object.keys(req.headers).length });
        }),
    ],
  });
  server = createHttpServer(app, { ...SETTINGS, ...settings });
  const listening = server;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  return (listening.address() as AddressInfo).port;
}

afterEach(async () => {
  const stopping = server;
  server = undefined;
  if (!stopping) return;
  stopping.closeAllConnections();
  await new Promise((resolve) => stopping.close(resolve));
});

interface Connection {
  socket: Socket;
  /** Resolves when the server closes the connection: what it sent, and after how long. */
  closed: Promise<{ text: string; ms: number }>;
}

function open(port: number): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<{ text: string; ms: number }>((done) => {
      socket.on('close', () =>
        done({ text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }),
      );
    });
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

/** Status and problem document of a raw HTTP response. */
function parseResponse(text: string): { status: number; headers: string; problem: Record<string, unknown> } {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  return { status, headers: head, problem: body ? (JSON.parse(body) as Record<string, unknown>) : {} };
}

function expectProblemResponse(text: string, status: number, type: string): void {
  const response = parseResponse(text);
  expect(response.status).toBe(status);
  expect(response.headers).toMatch(/\r\nContent-Type: application\/problem\+json/i);
  expect(response.problem).toMatchObject({ type: PROBLEM + type, status });
  expect(typeof response.problem.title).toBe('string');
  expect(typeof response.problem.detail).toBe('string');
}

/** Writes `text` a few bytes at a time until the socket closes. */
function trickle(socket: Socket, text: string, everyMs: number): void {
  let offset = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || offset >= text.length) {
      clearInterval(timer);
      return;
    }
    socket.write(text.slice(offset, offset + 2));
    offset += 2;
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

describe('slow clients are cut', () => {
  it('closes slow-header connections within the headers timeout, answering 408', async () => {
    const port = await start();
    const connections = await Promise.all(Array.from({ length: 10 }, () => open(port)));
    for (const { socket } of connections) {
      trickle(socket, `GET /v1/headers HTTP/1.1\r\nHost: x\r\n${'X-Slow: y\r\n'.repeat(100)}\r\n`, 50);
    }
    const results = await Promise.all(connections.map((connection) => connection.closed));
    for (const { text, ms } of results) {
      expect(ms).toBeGreaterThanOrEqual(SETTINGS.headersTimeoutMs - 50);
      expect(ms).toBeLessThan(SETTINGS.headersTimeoutMs + SLACK_MS);
      expectProblemResponse(text, 408, 'request-timeout');
    }
  });

  it('closes slow-body connections within the request timeout, answering 408', async () => {
    const port = await start();
    const connections = await Promise.all(Array.from({ length: 50 }, () => open(port)));
    const body = JSON.stringify({ pad: 'x'.repeat(500) });
    for (const { socket } of connections) {
      socket.write(
        `POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      trickle(socket, body, 50);
    }
    const results = await Promise.all(connections.map((connection) => connection.closed));
    for (const { text, ms } of results) {
      expect(ms).toBeGreaterThanOrEqual(SETTINGS.requestTimeoutMs - 50);
      expect(ms).toBeLessThan(SETTINGS.requestTimeoutMs + SLACK_MS);
      expectProblemResponse(text, 408, 'request-timeout');
    }
  });

  it('closes a connection that sends nothing within the headers timeout', async () => {
    const port = await start();
    const { ms } = await (await open(port)).closed;
    expect(ms).toBeLessThan(SETTINGS.headersTimeoutMs + SLACK_MS);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const port = await start();
    const connection = await open(port);
    connection.socket.write('GET /v1/headers HTTP/1.1\r\nHost: x\r\n\r\n');
    const { text, ms } = await connection.closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    // Node.js adds a second to the keep-alive timeout it tells the client, against races.
    expect(ms).toBeLessThan(SETTINGS.keepAliveTimeoutMs + 1000 + SLACK_MS);
  });

  it('serves a client that is merely not fast, within the limits', async () => {
    const port = await start();
    const connection = await open(port);
    const body = '{"a":1}';
    connection.socket.write(
      `POST /v1/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    trickle(connection.socket, body, 40);
    const { text } = await connection.closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain('{"body":{"a":1}}');
  });
});

describe('what Node.js answers itself is problem JSON', () => {
  it('answers headers over the size limit with 431', async () => {
    const port = await start();
    const connection = await open(port);
    connection.socket.write(`GET /v1/headers HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
    expectProblemResponse((await connection.closed).text, 431, 'headers-too-large');
  });

  it.each([
    ['garbage', 'HELLO WORLD\r\n\r\n'],
    ['a bad Content-Length', 'POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
    [
      'both Content-Length and chunked',
      'POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    ['no Host', 'GET /v1/headers HTTP/1.1\r\n\r\n'],
    ['a header without a colon', 'GET /v1/headers HTTP/1.1\r\nHost: x\r\nBroken\r\n\r\n'],
  ])('answers %s with 400 malformed-request', async (_what, request) => {
    const port = await start();
    const connection = await open(port);
    connection.socket.write(request);
    expectProblemResponse((await connection.closed).text, 400, 'malformed-request');
  });

  it('answers an unknown Expect with 417', async () => {
    const port = await start();
    const connection = await open(port);
    connection.socket.write('GET /v1/headers HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n');
    expectProblemResponse((await connection.closed).text, 417, 'expectation-failed');
  });

  it('reads at most the configured number of headers', async () => {
    const port = await start();
    const extra = Array.from({ length: 50 }, (_, index) => `X-H${index}: ${index}`).join('\r\n');
    const response = await fetch(`http://127.0.0.1:${port}/v1/headers`, {
      headers: Object.fromEntries(extra.split('\r\n').map((line) => line.split(': '))),
    });
    // Node.js up to 24 reads the first maxHeadersCount headers and drops the rest; Node.js 26 refuses
    // the request with 431 instead. Either way no more than the limit reaches the application.
    if (response.status === 431) {
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(((await response.json()) as { type: string }).type).toBe(
        'https://silobridge.dev/problems/headers-too-large',
      );
      return;
    }
    expect(((await response.json()) as { count: number }).count).toBeLessThanOrEqual(SETTINGS.maxHeaders);
  });
});

describe('connection limits', () => {
  it('refuses connections over the total', async () => {
    // Long timeouts here: a refused connection closes at once, not when a timeout would close it.
    const port = await start({ maxConnections: 3, headersTimeoutMs: 5000, requestTimeoutMs: 5000 });
    const held = await Promise.all(Array.from({ length: 3 }, () => open(port)));
    const refused = await open(port);
    const { text, ms } = await refused.closed;
    expect(text).toBe('');
    expect(ms).toBeLessThan(1000);
    for (const { socket } of held) expect(socket.destroyed).toBe(false);
    for (const { socket } of held) socket.destroy();
  });

  it('refuses connections over the per-client cap, and takes new ones when some close', async () => {
    const port = await start({ maxConnectionsPerClient: 2, headersTimeoutMs: 5000, requestTimeoutMs: 5000 });
    const held = await Promise.all([open(port), open(port)]);
    const { text, ms } = await (await open(port)).closed;
    expect(text).toBe('');
    expect(ms).toBeLessThan(1000);
    held[0]?.socket.destroy();
    await held[0]?.closed;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const again = await open(port);
    again.socket.write('GET /v1/headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect((await again.closed).text).toMatch(/^HTTP\/1\.1 200 /);
    held[1]?.socket.destroy();
  });
});

describe('the settings', () => {
  it('default to 10 s for headers, 30 s for the whole request, and bounded connections', () => {
    expect(loadConfig({}).http).toEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5000,
      maxHeaders: 100,
      maxHeaderBytes: 16_384,
      maxConnections: 1024,
      maxConnectionsPerClient: 0,
    });
  });

  it('refuse a headers timeout longer than the request timeout, and values out of range', () => {
    expect(() =>
      loadConfig({
        SILOBRIDGE_HTTP_HEADERS_TIMEOUT_MS: '20000',
        SILOBRIDGE_HTTP_REQUEST_TIMEOUT_MS: '10000',
      }),
    ).toThrow(ConfigError);
    expect(() => loadConfig({ SILOBRIDGE_HTTP_REQUEST_TIMEOUT_MS: '0' })).toThrow(
      /SILOBRIDGE_HTTP_REQUEST_TIMEOUT_MS="0" is not valid/,
    );
    expect(() => loadConfig({ SILOBRIDGE_HTTP_MAX_CONNECTIONS: 'many' })).toThrow(
      /SILOBRIDGE_HTTP_MAX_CONNECTIONS="many" is not valid/,
    );
  });
});
