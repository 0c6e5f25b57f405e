/**
 * A gateway for end-to-end tests, started in-process on real PostgreSQL (a database of the test
 * file's own) and real Kafka, with demo identities and the all-types test policy, and a client that
 * calls it as the test requester with a bearer token.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { expect, inject, vi } from 'vitest';
import { loadConfig } from '../../gateway/foundation/config.js';
import { type RunningGateway, startGateway } from '../../gateway/gateway.js';
import { demoToken, writeTestPolicy } from './gateway-auth.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export interface JsonResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read deep into response JSON; assertions check shape.
  body: Record<string, any>;
  /** Wall time of the call, for "answers at once" assertions. */
  ms: number;
}

export interface TestGatewayEnvironment {
  database: TestDatabase;
  /** Shared by every gateway instance started here: demo keys and audit secrets live in it. */
  dataDir: string;
  start(instanceId: string, extraEnv?: Record<string, string>): Promise<RunningGateway>;
  /** Calls `gateway` as `systemId` (a demo system; default the approval workflow, role lookup). */
  client(gateway: RunningGateway, systemId?: string): Promise<TestClient>;
  cleanup(): Promise<void>;
}

/** The demo operator system (role admin): sees /v1/connectors. */
export const OPERATOR = 'data-office/gateway-admin';

export interface TestClient {
  post(path: string, body: unknown): Promise<JsonResponse>;
  put(path: string, body: unknown): Promise<JsonResponse>;
  get(path: string): Promise<JsonResponse>;
  delete(path: string): Promise<JsonResponse>;
}

export async function createTestGatewayEnvironment(topicPrefix: string): Promise<TestGatewayEnvironment> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-e2e-'));
  const policiesDir = path.join(dataDir, 'policies');
  await mkdir(policiesDir);
  await writeTestPolicy(policiesDir);
  const started: RunningGateway[] = [];

  return {
    database,
    dataDir,
    async start(instanceId, extraEnv = {}) {
      const config = loadConfig({
        DATABASE_URL: database.url,
        KAFKA_BROKERS: inject('kafkaBrokers'),
        PORT: '0',
        SILOBRIDGE_DATA_DIR: dataDir,
        SILOBRIDGE_POLICIES_DIR: policiesDir,
        SILOBRIDGE_DEMO_IDENTITIES: 'true',
        SILOBRIDGE_TOPIC_PREFIX: topicPrefix,
        SILOBRIDGE_INSTANCE_ID: instanceId,
        ...extraEnv,
      });
      const gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
      started.push(gateway);
      return gateway;
    },
    async client(gateway, systemId) {
      const token = await demoToken(dataDir, systemId);
      const call = async (method: string, route: string, body?: unknown): Promise<JsonResponse> => {
        const startedAt = performance.now();
        const response = await fetch(`${gateway.url}${route}`, {
          method,
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        // 204 and the like have no body.
        const text = await response.text();
        return {
          status: response.status,
          body: (text ? JSON.parse(text) : undefined) as JsonResponse['body'],
          ms: performance.now() - startedAt,
        };
      };
      return {
        post: (route, body) => call('POST', route, body),
        put: (route, body) => call('PUT', route, body),
        get: (route) => call('GET', route),
        delete: (route) => call('DELETE', route),
      };
    },
    async cleanup() {
      for (const gateway of started) await gateway.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every connector instance in a GET /v1/connectors answer, registered or not, with its department. */
export function announcedInstances(
  // biome-ignore lint/suspicious/noExplicitAny: response JSON; assertions check its shape.
  body: Record<string, any>,
): Array<{ department: string; instanceId: string; live: boolean; registered: boolean }> {
  const registered = (body.connectors ?? []).flatMap(
    (connector: { department: string; instances: Array<{ instanceId: string; live: boolean }> }) =>
      connector.instances.map((instance) => ({
        ...instance,
        department: connector.department,
        registered: true,
      })),
  );
  const unregistered = (body.unregisteredInstances ?? []).map((instance: { department: string }) => ({
    ...instance,
    registered: false,
  }));
  return [...registered, ...unregistered];
}

export interface ConnectorThroughGateway {
  /** The department's connector system, registered with the public key its connector signs with. */
  system: { id: string; name: string; publicJwk: Record<string, unknown> };
  /** A lookup body the connector can answer. */
  lookup: Record<string, unknown>;
  timeoutMs?: number;
  /** More for a failure message, e.g. the connector's output. */
  context?: () => string;
}

/**
 * What a department does to be reachable through a gateway, and what an approval system then sees:
 * starts a gateway of `env`, registers the connector system (role `connector`) as the operator would,
 * and posts the lookup as the approval system until it answers 200 (the connector's heartbeats are
 * accepted once its key is registered). Resolves with that answer.
 */
export async function lookupThroughGateway(
  env: TestGatewayEnvironment,
  instanceId: string,
  options: ConnectorThroughGateway,
): Promise<JsonResponse> {
  const gateway = await env.start(instanceId);
  const admin = await env.client(gateway, OPERATOR);
  const api = await env.client(gateway);
  const { id, name, publicJwk } = options.system;
  const system = await admin.post('/v1/systems', {
    id,
    name,
    roles: ['connector'],
    keys: [{ jwk: publicJwk }],
  });
  expect(system.status, JSON.stringify(system.body)).toBe(201);
  return vi.waitFor(
    async () => {
      const response = await api.post('/v1/lookups', options.lookup);
      expect(response.status, JSON.stringify(response.body) + (options.context?.() ?? '')).toBe(200);
      return response;
    },
    { timeout: options.timeoutMs ?? 20_000, interval: 200 },
  );
}
