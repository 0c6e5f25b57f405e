/**
 * Multi-instance proof on one machine. Two gateway processes (the build, as `npm start` runs it) share
 * one PostgreSQL database, one Kafka broker, one topic prefix and the same secrets, given through the
 * environment as a real deployment must; three connector processes (two public-security instances,
 * one market-regulation) answer both. Lookups are spread over both gateways, a few at a time; one
 * gateway is killed with SIGKILL part way through. The test shows that the other keeps serving, that
 * every lookup a client received has its audit event (one chain, written by both instances), and that
 * the audit chain verifies, through the survivor's API and with `silobridge audit verify`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { projectRoot } from '../../gateway/foundation/paths.js';
import { exitOf, runNode, stopChildProcess } from '../support/child-process.js';
import { type ConnectorProcess, cliEntry, startConnectorProcess } from '../support/connector-process.js';
import { demoToken, TEST_REQUESTER, writeTestPolicy } from '../support/gateway-auth.js';
import { type GatewayProcess, startGatewayProcess } from '../support/gateway-process.js';
import { lookupBody } from '../support/lookup-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { announcedInstances, type JsonResponse, OPERATOR } from '../support/test-gateway.js';

/** The demo data officers' console (role `audit`). */
const AUDITOR = 'data-office/audit-console';
const LOOKUPS = 48;
const IN_FLIGHT = 4;
/** Completed lookups before gateway B is killed; the rest run against a cluster of one. */
const KILL_AFTER = 16;
/** Certificate types the connector processes below serve, with how many seed records each has. */
const TYPES = [
  { certificateType: 'resident-id-card', seeds: 10 },
  { certificateType: 'business-licence', seeds: 10 },
  { certificateType: 'food-business-licence', seeds: 8 },
] as const;
const CONNECTORS = [
  { department: 'public-security', instanceId: 'ps-1' },
  { department: 'public-security', instanceId: 'ps-2' },
  { department: 'market-regulation', instanceId: 'mr-1' },
] as const;

type GatewayName = 'a' | 'b';

/** One lookup as the client saw it: an HTTP answer it received, or a failure at the network level. */
interface Attempt {
  index: number;
  gateway: GatewayName;
  certificateType: string;
  /** Sent after gateway B was killed. */
  sentAfterKill: boolean;
  status?: number;
  lookupId?: string;
  recordDigest?: string;
  networkError?: string;
}

async function call(
  url: string,
  token: string,
  method: 'GET' | 'POST',
  route: string,
  body?: unknown,
): Promise<Omit<JsonResponse, 'ms'>> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as JsonResponse['body'] };
}

describe('two gateway processes on one database and one broker, one of them SIGKILLed mid-load', () => {
  const prefix = `multi-${randomBytes(4).toString('hex')}`;
  // Shared by every instance, given through the environment: a generated per-instance secret would
  // break subject search (HMAC key) and signing (sealing secret) across instances.
  const secrets = {
    SILOBRIDGE_AUDIT_HMAC_KEY: randomBytes(32).toString('base64url'),
    SILOBRIDGE_SIGNING_KEY_SECRET: randomBytes(32).toString('base64url'),
  };
  let database: TestDatabase | undefined;
  let dataDir: string | undefined;
  const gateways: Partial<Record<GatewayName, GatewayProcess>> = {};
  const connectors: ConnectorProcess[] = [];
  const tokens = { requester: '', operator: '', auditor: '' };
  const attempts: Attempt[] = [];

  const gateway = (name: GatewayName): GatewayProcess => {
    const started = gateways[name];
    if (!started) throw new Error(`gateway ${name} did not start`);
    return started;
  };
  const connectorOutput = () =>
    connectors.map((connector) => `[${connector.instanceId}] ${connector.output()}`).join('\n');

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-multi-'));
    const policiesDir = path.join(dataDir, 'policies');
    await mkdir(policiesDir);
    await writeTestPolicy(policiesDir);
    const shared = {
      DATABASE_URL: database.url,
      KAFKA_BROKERS: inject('kafkaBrokers'),
      SILOBRIDGE_TOPIC_PREFIX: prefix,
      SILOBRIDGE_DATA_DIR: dataDir,
      SILOBRIDGE_POLICIES_DIR: policiesDir,
      SILOBRIDGE_DEMO_IDENTITIES: 'true',
      SILOBRIDGE_SAMPLE_CONNECTORS: 'false',
      SILOBRIDGE_LOOKUP_TIMEOUT_MS: '10000',
      SILOBRIDGE_SHUTDOWN_GRACE_MS: '2000',
      ...secrets,
    };
    // One after the other: two instances bootstrapping the demo identities on an empty database at the
    // same time race (one exits with registry-conflict), see the report of this test.
    gateways.a = await startGatewayProcess({ ...shared, SILOBRIDGE_INSTANCE_ID: `${prefix}-gw-a` });
    gateways.b = await startGatewayProcess({ ...shared, SILOBRIDGE_INSTANCE_ID: `${prefix}-gw-b` });
    // Started after the gateways, which create the shared topics.
    for (const { department, instanceId } of CONNECTORS) {
      connectors.push(
        startConnectorProcess({
          department,
          instanceId,
          dataDir,
          env: { KAFKA_BROKERS: inject('kafkaBrokers'), SILOBRIDGE_TOPIC_PREFIX: prefix },
        }),
      );
    }
    tokens.requester = await demoToken(dataDir, TEST_REQUESTER);
    tokens.operator = await demoToken(dataDir, OPERATOR);
    tokens.auditor = await demoToken(dataDir, AUDITOR);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([
      ...connectors.map((connector) => connector.stop()),
      ...Object.values(gateways).map((started) => stopChildProcess(started.child)),
    ]);
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('starts both instances on the secrets from the environment, and both see every connector live', async () => {
    // Neither instance generated secrets of its own into the shared data folder.
    expect(existsSync(path.join(dataDir ?? '', 'secrets'))).toBe(false);
    for (const name of ['a', 'b'] as const) {
      await vi.waitFor(
        async () => {
          const { status, body } = await call(gateway(name).url, tokens.operator, 'GET', '/v1/connectors');
          expect(status, JSON.stringify(body)).toBe(200);
          for (const { department, instanceId } of CONNECTORS) {
            expect(announcedInstances(body), `gateway ${name}\n${connectorOutput()}`).toContainEqual(
              expect.objectContaining({ department, instanceId, live: true }),
            );
          }
        },
        { timeout: 30_000, interval: 200 },
      );
    }
  }, 40_000);

  it('keeps serving from the survivor after the other gateway is SIGKILLed part way through', async () => {
    const victim = gateway('b').child;
    const victimExited = exitOf(victim);
    let killed = false;
    let completed = 0;
    let next = 0;

    // IN_FLIGHT workers take the next lookup, alternating gateways; the kill lands while some
    // lookups are still in flight on both.
    const worker = async () => {
      while (next < LOOKUPS) {
        const index = next++;
        const name: GatewayName = index % 2 === 0 ? 'a' : 'b';
        const { certificateType, seeds } = TYPES[index % TYPES.length] ?? TYPES[0];
        const attempt: Attempt = { index, gateway: name, certificateType, sentAfterKill: killed };
        attempts.push(attempt);
        try {
          const body = lookupBody(certificateType, Math.floor(index / TYPES.length) % seeds);
          const response = await call(gateway(name).url, tokens.requester, 'POST', '/v1/lookups', body);
          attempt.status = response.status;
          attempt.lookupId = response.body.lookupId;
          attempt.recordDigest = response.body.recordDigest;
        } catch (error) {
          // Refused or reset connection, or a body cut short: the client received nothing.
          const cause = (error as { cause?: { code?: string } }).cause;
          attempt.networkError = cause?.code ?? (error as Error).message;
        }
        completed += 1;
        if (completed === KILL_AFTER) {
          killed = true;
          victim.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await victimExited;
    expect(victim.signalCode).toBe('SIGKILL');

    const summary = JSON.stringify(attempts, null, 1);
    const received = attempts.filter((attempt) => attempt.status !== undefined);
    const before = received.filter((attempt) => !attempt.sentAfterKill);
    const sentAfter = attempts.filter((attempt) => attempt.sentAfterKill);
    // Before the kill the load really was spread over both instances.
    expect(
      before.filter((a) => a.gateway === 'a' && a.status === 200).length,
      summary,
    ).toBeGreaterThanOrEqual(4);
    expect(
      before.filter((a) => a.gateway === 'b' && a.status === 200).length,
      summary,
    ).toBeGreaterThanOrEqual(4);
    // After it, the survivor answered every lookup sent to it, a long run of consecutive 200s...
    const survivorAfter = sentAfter.filter((attempt) => attempt.gateway === 'a');
    expect(survivorAfter.length).toBeGreaterThanOrEqual(12);
    expect(
      survivorAfter.map((attempt) => attempt.status),
      summary,
    ).toEqual(survivorAfter.map(() => 200));
    // ...while every lookup sent to the dead instance failed at the network level: no answer at all.
    const deadAfter = sentAfter.filter((attempt) => attempt.gateway === 'b');
    expect(deadAfter.length).toBeGreaterThanOrEqual(12);
    for (const attempt of deadAfter) expect(attempt.status, summary).toBeUndefined();
    // Every answer a client did receive, from either instance, released its record with a lookup id.
    expect(received.length).toBeGreaterThanOrEqual(LOOKUPS / 2 + 4);
    for (const attempt of received) {
      expect(attempt.status, summary).toBe(200);
      expect(attempt.lookupId, summary).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(new Set(received.map((attempt) => attempt.lookupId)).size).toBe(received.length);

    // The survivor is still ready: database, bus, reply consumer and connector directory.
    await vi.waitFor(async () => expect((await fetch(`${gateway('a').url}/readyz`)).status).toBe(200), {
      timeout: 15_000,
      interval: 250,
    });
  }, 60_000);

  it('has an audit event, granted, for every lookup a client received, from either instance', async () => {
    const received = attempts.filter((attempt) => attempt.status === 200);
    expect(received.length).toBeGreaterThan(0);
    // biome-ignore lint/suspicious/noExplicitAny: audit events are read as JSON; assertions check shape.
    const events = new Map<string, Array<Record<string, any>>>();
    let cursor: string | undefined;
    do {
      const query = `kind=lookup&order=asc&limit=500${cursor ? `&cursor=${cursor}` : ''}`;
      const { status, body } = await call(
        gateway('a').url,
        tokens.auditor,
        'GET',
        `/v1/audit/events?${query}`,
      );
      expect(status, JSON.stringify(body)).toBe(200);
      for (const row of body.events) {
        const list = events.get(row.event.lookupId) ?? [];
        list.push(row.event);
        events.set(row.event.lookupId, list);
      }
      cursor = body.nextCursor ?? undefined;
    } while (cursor);

    for (const attempt of received) {
      const found = events.get(attempt.lookupId ?? '') ?? [];
      expect(found, `audit events of lookup ${attempt.index} on gateway ${attempt.gateway}`).toEqual([
        expect.objectContaining({
          kind: 'lookup',
          lookupId: attempt.lookupId,
          outcome: 'granted',
          status: 200,
          certificateType: attempt.certificateType,
          recordDigest: attempt.recordDigest,
          requester: expect.objectContaining({ system: TEST_REQUESTER }),
        }),
      ]);
    }
  });

  it('verifies the audit chain, through the survivor and with `silobridge audit verify`', async () => {
    const received = attempts.filter((attempt) => attempt.status === 200).length;
    const { status, body } = await call(gateway('a').url, tokens.auditor, 'GET', '/v1/audit/verify');
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body, JSON.stringify(body)).toMatchObject({ ok: true, firstProblem: null, problems: [] });
    expect(body.events).toBeGreaterThanOrEqual(received);

    // `silobridge audit verify --json` against the shared database, as an operator runs it.
    const cli = await runNode([cliEntry, 'audit', 'verify', '--json'], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: database?.url ?? '',
        SILOBRIDGE_DATA_DIR: dataDir ?? '',
        ...secrets,
      },
    });
    expect(cli.code, cli.stderr + cli.stdout).toBe(0);
    const report = JSON.parse(cli.stdout) as { ok: boolean; events: number; firstProblem: unknown };
    expect(report).toMatchObject({ ok: true, firstProblem: null });
    expect(report.events).toBeGreaterThanOrEqual(body.events);
  }, 30_000);
});
