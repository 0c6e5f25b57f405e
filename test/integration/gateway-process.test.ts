import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { demoToken, writeTestPolicy } from '../support/gateway-auth.js';
import { type GatewayProcess, startGatewayProcess } from '../support/gateway-process.js';
import { lookupBody } from '../support/lookup-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

describe('gateway process on real PostgreSQL and real Kafka', () => {
  let database: TestDatabase;
  let gateway: GatewayProcess;
  let dataDir: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-data-'));
    await writeTestPolicy(dataDir);
    gateway = await startGatewayProcess({
      DATABASE_URL: database.url,
      SILOBRIDGE_DATA_DIR: dataDir,
      KAFKA_BROKERS: inject('kafkaBrokers'),
      SILOBRIDGE_TOPIC_PREFIX: `process-${database.name.slice(-12)}`,
      // A caller with a token, and no connector running: lookups answer 503 no-live-connector.
      SILOBRIDGE_DEMO_IDENTITIES: 'true',
      SILOBRIDGE_POLICIES_DIR: dataDir,
    });
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers /healthz while the process is up', async () => {
    const response = await fetch(`${gateway.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('becomes ready once database, broker and reply consumer are, saying what it waits for until then', async () => {
    const first = await fetch(`${gateway.url}/readyz`);
    if (first.status === 503) {
      // Right after start it is still learning which connectors are live (one heartbeat interval).
      expect(await first.json()).toMatchObject({ type: 'https://silobridge.dev/problems/not-ready' });
    }
    await vi.waitFor(async () => expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200), {
      timeout: 15_000,
      interval: 250,
    });
    expect(await (await fetch(`${gateway.url}/readyz`)).json()).toEqual({
      status: 'ready',
      checks: { database: 'ok', bus: 'ok', replies: 'ok', connectors: 'ok' },
    });
  });

  it('logs no error while starting, even while its readiness probe still answers 503', () => {
    const noisy = gateway.logs.filter((line) => ['error', 'fatal'].includes(String(line.level)));
    expect(noisy).toEqual([]);
    expect(gateway.logs.filter((line) => JSON.stringify(line).includes('"stack"'))).toEqual([]);
  });

  it('warns that secrets made in its data folder will not do for a second instance on this database', () => {
    expect(
      gateway.logs.find((line) => String(line.msg).startsWith('gateway secrets come from the data folder')),
    ).toMatchObject({
      level: 'warn',
      secretsDir: path.join(dataDir, 'secrets'),
    });
  });

  it('logs an expected 503 (no live connector) as one warning naming its problem, without a stack', async () => {
    const response = await fetch(`${gateway.url}/v1/lookups`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${await demoToken(dataDir)}`,
        'X-Request-Id': 'no-connector-1',
      },
      body: JSON.stringify(lookupBody('resident-id-card')),
    });
    expect(response.status).toBe(503);
    const problem = 'https://silobridge.dev/problems/no-live-connector';
    expect(await response.json()).toMatchObject({ type: problem });
    await expect
      .poll(() => gateway.logs.filter((line) => line.requestId === 'no-connector-1'))
      .toEqual([expect.objectContaining({ level: 'warn', problem, res: { statusCode: 503 } })]);
    expect(JSON.stringify(gateway.logs.find((line) => line.requestId === 'no-connector-1'))).not.toContain(
      'stack',
    );
  });

  it('logs JSON lines carrying the request id it returns', async () => {
    const response = await fetch(`${gateway.url}/no-such-route`, { headers: { 'X-Request-Id': 'trace-42' } });
    expect(response.headers.get('x-request-id')).toBe('trace-42');
    await expect.poll(() => gateway.logs.find((line) => line.requestId === 'trace-42')).toBeDefined();
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await gateway.stop('SIGTERM')).toBe(0);
    expect(gateway.logs.map((line) => line.msg)).toContain('gateway stopped');
  });
});

describe('gateway process on the embedded default (npm start)', () => {
  it('starts on PGlite and the in-process bus, is ready, and exits 0 on SIGINT', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-data-'));
    try {
      const gateway = await startGatewayProcess({ SILOBRIDGE_DATA_DIR: dataDir });
      try {
        await vi.waitFor(async () => expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200), {
          timeout: 15_000,
          interval: 250,
        });
        expect(gateway.logs.find((line) => line.msg === 'database ready')).toMatchObject({
          database: 'pglite',
        });
      } finally {
        expect(await gateway.stop('SIGINT')).toBe(0);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses to start on bad configuration, naming the variable', async () => {
    await expect(startGatewayProcess({ PORT: 'eighty' })).rejects.toThrow(
      /exited with 2 before listening: silobridge: Invalid configuration:\n {2}- PORT="eighty" is not valid/,
    );
  });
});
