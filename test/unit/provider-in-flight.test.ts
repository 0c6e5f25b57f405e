/**
 * One slow department cannot starve the others: the gateway keeps at most
 * SILOBRIDGE_MAX_IN_FLIGHT_PER_DEPARTMENT lookups waiting on one department, refuses more at once with
 * 503 `provider-busy`, and other departments answer as fast as ever meanwhile. Embedded database,
 * in-process bus, the sample connectors' data, one of them deliberately slow.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSampleHandlers } from '../../connectors/samples/sample-connectors.js';
import { sampleSeedDir } from '../../gateway/foundation/paths.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import {
  delayedSampleHandlers,
  type EmbeddedGateway,
  startEmbeddedGateway,
} from '../support/embedded-gateway.js';
import { demoToken } from '../support/gateway-auth.js';
import { lookupBody } from '../support/lookup-fixtures.js';

const LIMIT = 4;
// The connector answers one request of a subject at a time: the fourth is answered after 4 s, inside the 5 s deadline.
const SLOW_MS = 1000;
let embedded: EmbeddedGateway;
let gateway: RunningGateway;
let token: string;

beforeAll(async () => {
  embedded = await startEmbeddedGateway({
    env: {
      SILOBRIDGE_SAMPLE_CONNECTORS: 'false',
      SILOBRIDGE_MAX_IN_FLIGHT_PER_DEPARTMENT: String(LIMIT),
    },
  });
  gateway = embedded.gateway;
  await embedded.startConnector(
    'public-security',
    delayedSampleHandlers('public-security', () => SLOW_MS),
  );
  await embedded.startConnector(
    'market-regulation',
    createSampleHandlers('market-regulation', sampleSeedDir),
  );
  token = await demoToken(embedded.dataDir);
});
afterAll(async () => {
  await embedded?.close();
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
