import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type GatewayProcess, startGatewayProcess } from '../support/gateway-process.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

describe('gateway process on real PostgreSQL and real Kafka', () => {
  let database: TestDatabase;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    gateway = await startGatewayProcess({
      DATABASE_URL: database.url,
      KAFKA_BROKERS: inject('kafkaBrokers'),
      SILOBRIDGE_TOPIC_PREFIX: `process-${database.name.slice(-12)}`,
    });
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    await database?.drop();
  });

  it('answers /healthz while the process is up', async () => {
    const response = await fetch(`${gateway.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('is ready when database and broker are reachable', async () => {
    const response = await fetch(`${gateway.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ready', checks: { database: 'ok', bus: 'ok' } });
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
        const ready = await fetch(`${gateway.url}/readyz`);
        expect(ready.status).toBe(200);
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
