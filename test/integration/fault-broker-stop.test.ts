/**
 * Fault drill: the Kafka broker dies under load (SIGKILL: clients get refused connections) and comes
 * back. A broker of this test's own (the shared one serves other files), a gateway on PostgreSQL with
 * the sample connectors on that broker. Every lookup answers by its deadline, 503 at once once the
 * bus is known down, nothing rejects unobserved, /readyz goes red, and service resumes by itself.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningGateway } from '../../gateway/gateway.js';
import { type KafkaBroker, startKafkaBroker } from '../kafka/kafka-broker.js';
import { lookupBody } from '../support/lookup-fixtures.js';
import {
  createTestGatewayEnvironment,
  type TestClient,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const DEADLINE_MS = 2000;

let broker: KafkaBroker;
let env: TestGatewayEnvironment;
let gateway: RunningGateway;
let api: TestClient;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  broker = await startKafkaBroker();
  env = await createTestGatewayEnvironment('fault-broker');
  gateway = await env.start('fault-broker', {
    KAFKA_BROKERS: broker.brokers.join(','),
    SILOBRIDGE_SAMPLE_CONNECTORS: 'true',
    SILOBRIDGE_LOOKUP_TIMEOUT_MS: String(DEADLINE_MS),
  });
  api = await env.client(gateway);
  await vi.waitFor(
    async () => expect((await api.post('/v1/lookups', lookupBody('resident-id-card'))).status).toBe(200),
    { timeout: 60_000, interval: 250 },
  );
}, 180_000);
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await env?.cleanup();
  await broker?.stop();
});

describe('the broker stops under load', () => {
  it('answers every lookup by its deadline, 503 at once once the bus is known down, and resumes by itself', async () => {
    await broker.kill();
    const answers: Array<{ status: number; ms: number; at: number; type?: string }> = [];
    const startedAt = performance.now();
    // Four callers in a loop for 6 s.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() - startedAt < 6000) {
          const { status, ms, body } = await api.post('/v1/lookups', lookupBody('resident-id-card'));
          answers.push({ status, ms, at: performance.now() - startedAt, type: body.type });
        }
      }),
    );
    expect(answers.length).toBeGreaterThan(20);
    for (const answer of answers) {
      expect([503, 504]).toContain(answer.status);
      expect(answer.ms).toBeLessThan(DEADLINE_MS + 500);
    }
    // After the first seconds, lookups are refused at once instead of waiting out their deadline.
    const later = answers.filter((answer) => answer.at > DEADLINE_MS + 1000);
    expect(later.length).toBeGreaterThan(10);
    const fast = later.filter((answer) => answer.ms < 200);
    expect(fast.length / later.length).toBeGreaterThan(0.8);
    expect(fast.map((answer) => answer.type)).toContain('https://silobridge.dev/problems/bus-unavailable');

    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(503);

    await broker.restart();
    const backAt = performance.now();
    await vi.waitFor(
      async () => expect((await api.post('/v1/lookups', lookupBody('resident-id-card'))).status).toBe(200),
      { timeout: 60_000, interval: 100 },
    );
    const resumedMs = performance.now() - backAt;
    console.info(`[fault-broker] first 200 ${Math.round(resumedMs)} ms after the broker was ready again`);
    // The consumers rejoin within their 6 s session timeout; heartbeats go out within a second.
    expect(resumedMs).toBeLessThan(8000);
    await vi.waitFor(async () => expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200), {
      timeout: 30_000,
      interval: 250,
    });
    expect(unhandled).toEqual([]);
  }, 120_000);
});
