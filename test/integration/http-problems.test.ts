import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/foundation/config.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { type RunningGateway, startGateway } from '../../gateway/gateway.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const PROBLEM = 'https://silobridge.dev/problems/';

describe('HTTP errors are RFC 9457 problem JSON', () => {
  let database: TestDatabase;
  let gateway: RunningGateway;
  let dataDir: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-http-'));
    const config = loadConfig({
      DATABASE_URL: database.url,
      SILOBRIDGE_DATA_DIR: dataDir,
      PORT: '0',
      SILOBRIDGE_BODY_LIMIT_BYTES: '2048',
      SILOBRIDGE_SAMPLE_CONNECTORS: 'false',
    });
    gateway = await startGateway(config, { logger: createLogger('silent') });
  });
  afterAll(async () => {
    await gateway?.close();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const post = (path: string, body: string, contentType = 'application/json') =>
    fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'Content-Type': contentType }, body });

  async function expectProblem(response: Response, status: number, type: string) {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: PROBLEM + type, status });
    expect(typeof problem.title).toBe('string');
    expect(typeof problem.detail).toBe('string');
    expect(problem.instance).toBe(`urn:silobridge:request:${response.headers.get('x-request-id')}`);
    return problem;
  }

  it('answers an unknown route with 404 naming the route', async () => {
    const problem = await expectProblem(await fetch(`${gateway.url}/v1/nowhere`), 404, 'route-not-found');
    expect(problem.detail).toBe('No route for GET /v1/nowhere.');
  });

  it('answers malformed JSON with 400 saying it could not be parsed', async () => {
    const problem = await expectProblem(
      await post('/v1/lookups', '{"certificateType": '),
      400,
      'malformed-json',
    );
    expect(problem.detail).toMatch(/could not be parsed as JSON/);
  });

  it('answers a body over the limit with 413 giving the limit', async () => {
    const problem = await expectProblem(
      await post('/v1/lookups', JSON.stringify({ pad: 'x'.repeat(4096) })),
      413,
      'payload-too-large',
    );
    expect(problem.limitBytes).toBe(2048);
  });

  it('answers a body that is not JSON with 415', async () => {
    await expectProblem(
      await post('/v1/lookups', 'certificateType=x', 'application/x-www-form-urlencoded'),
      415,
      'unsupported-media-type',
    );
  });

  it('never caches responses and hides the framework', async () => {
    const response = await fetch(`${gateway.url}/healthz`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-powered-by')).toBeNull();
  });

  it('replaces a request id that is not plain with its own', async () => {
    const response = await fetch(`${gateway.url}/healthz`, { headers: { 'X-Request-Id': 'a b<script>' } });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('counts requests by route template in /metrics', async () => {
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(
      /silobridge_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/,
    );
  });

  it('reports not ready, naming the database, when the database goes away', async () => {
    await database.drop();
    const problem = await expectProblem(await fetch(`${gateway.url}/readyz`), 503, 'not-ready');
    expect(problem.detail).toMatch(/^Not ready: database: /);
    expect(problem.checks).toMatchObject({ bus: 'ok' });
    // Liveness is about the process, not its dependencies.
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  });
});
