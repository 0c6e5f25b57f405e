/**
 * One slow department cannot starve the others: the gateway keeps at most
 * SILOBRIDGE_MAX_IN_FLIGHT_PER_DEPARTMENT lookups waiting on one department, refuses more at once with
 * 503 `provider-busy`, and other departments answer as fast as ever meanwhile. Embedded database,
 * in-process bus, the sample connectors' data, one of them deliberately slow.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CertificateHandler } from '../../connectors/runtime/certificate-handler.js';
import { type Connector, createConnector } from '../../connectors/runtime/connector-runtime.js';
import { createSampleHandlers } from '../../connectors/samples/sample-connectors.js';
import { loadConfig } from '../../gateway/foundation/config.js';
import { sampleSeedDir } from '../../gateway/foundation/paths.js';
import { type RunningGateway, startGateway } from '../../gateway/gateway.js';
import { demoConnectorSigners } from '../support/department-keys.js';
import { demoToken, writeTestPolicy } from '../support/gateway-auth.js';
import { lookupBody } from '../support/lookup-fixtures.js';

const LIMIT = 4;
// The connector answers one request of a subject at a time: the fourth is answered after 4 s, inside the 5 s deadline.
const SLOW_MS = 1000;
let dataDir: string;
let gateway: RunningGateway;
let token: string;
const connectors: Connector[] = [];

/** The sample department's handlers, each answering only after `ms`. */
function slowed(department: string, ms: number): Record<string, CertificateHandler> {
  const handlers = createSampleHandlers(department, sampleSeedDir);
  return Object.fromEntries(
    Object.entries(handlers).map(([type, handler]) => [
      type,
      {
        ...handler,
        async lookup(request, signal) {
          await delay(ms);
          return handler.lookup(request, signal);
        },
      } satisfies CertificateHandler,
    ]),
  );
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-in-flight-'));
  const policiesDir = path.join(dataDir, 'policies');
  await mkdir(policiesDir);
  await writeTestPolicy(policiesDir);
  gateway = await startGateway(
    loadConfig({
      PORT: '0',
      SILOBRIDGE_DATA_DIR: dataDir,
      SILOBRIDGE_POLICIES_DIR: policiesDir,
      SILOBRIDGE_DEMO_IDENTITIES: 'true',
      SILOBRIDGE_SAMPLE_CONNECTORS: 'false',
      SILOBRIDGE_MAX_IN_FLIGHT_PER_DEPARTMENT: String(LIMIT),
    }),
    { logger: pino({ level: 'silent' }) },
  );
  const signerFor = await demoConnectorSigners(dataDir);
  for (const [department, ms] of [
    ['public-security', SLOW_MS],
    ['market-regulation', 0],
  ] as const) {
    const connector = createConnector({
      bus: gateway.bus,
      department,
      topicPrefix: gateway.config.topicPrefix,
      signer: signerFor(department),
      handlers: slowed(department, ms),
      logger: pino({ level: 'silent' }),
    });
    await connector.start();
    connectors.push(connector);
  }
  token = await demoToken(dataDir);
});
afterAll(async () => {
  for (const connector of connectors) await connector.stop();
  await gateway?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function lookup(certificateType: string) {
  const startedAt = performance.now();
  const response = await fetch(`${gateway.url}/v1/lookups`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(lookupBody(certificateType)),
  });
  const body = (await response.json()) as { type?: string };
  return {
    status: response.status,
    type: body.type,
    retryAfter: response.headers.get('retry-after'),
    ms: performance.now() - startedAt,
  };
}

describe('a slow department', () => {
  it('gets at most the configured lookups at once; more are refused at once, and other departments answer meanwhile', async () => {
    await vi.waitFor(async () => expect((await lookup('business-licence')).status).toBe(200), {
      timeout: 20_000,
      interval: 100,
    });
    await vi.waitFor(async () => expect((await lookup('resident-id-card')).status).toBe(200), {
      timeout: 20_000,
      interval: 100,
    });

    const slow = Array.from({ length: 10 }, () => lookup('resident-id-card'));
    await delay(200);
    const others = [];
    for (let index = 0; index < 5; index += 1) others.push(await lookup('business-licence'));
    for (const other of others) {
      expect(other.status, other.type).toBe(200);
      expect(other.ms).toBeLessThan(SLOW_MS / 2);
    }
    const answers = await Promise.all(slow);
    const granted = answers.filter((answer) => answer.status === 200);
    const busy = answers.filter((answer) => answer.status === 503);
    expect(granted).toHaveLength(LIMIT);
    expect(busy).toHaveLength(10 - LIMIT);
    for (const refused of busy) {
      expect(refused.type).toBe('https://silobridge.dev/problems/provider-busy');
      expect(refused.retryAfter).toBe('1');
      expect(refused.ms).toBeLessThan(SLOW_MS / 2);
    }
    // Once they are answered, the department takes lookups again.
    expect((await lookup('resident-id-card')).status).toBe(200);
  });
});
