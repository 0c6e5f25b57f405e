/**
 * Per-requester rate limits hold for a cluster: two gateway instances (in-process, each with its own
 * connection pool) on one PostgreSQL database. No connector is online, so a lookup the policy allows
 * answers 503 `no-live-connector` at once, and one it rate-limits answers 429: the limiter's decision
 * is all these tests look at.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadSchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { PROBLEM_TYPE_BASE } from '../../gateway/foundation/errors.js';
import { schemasDir } from '../../gateway/foundation/paths.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import { demoToken } from '../support/gateway-auth.js';
import { lookupSubject } from '../support/lookup-fixtures.js';
import { createTestGatewayEnvironment, type TestGatewayEnvironment } from '../support/test-gateway.js';

const MARRIAGE_REGISTRY = 'civil-affairs/marriage-registry';
const REAL_ESTATE_REGISTRY = 'natural-resources/real-estate-registry';
const APPROVAL = 'service-centre/approval';

/** One policy per scenario, so each has a bucket of its own: [policy id, system, matter, rate]. */
const POLICIES = [
  ['rate-exact', MARRIAGE_REGISTRY, 'RL-0001', { requestsPerMinute: 6, burst: 4 }],
  ['rate-refill', REAL_ESTATE_REGISTRY, 'RL-0002', { requestsPerMinute: 120, burst: 4 }],
  ['rate-concurrent', APPROVAL, 'RL-0003', { requestsPerMinute: 6, burst: 10 }],
  ['rate-leased', APPROVAL, 'RL-0004', { requestsPerMinute: 600, burst: 50 }],
] as const;

async function writePolicies(dir: string) {
  const catalog = await loadSchemaCatalog(schemasDir);
  const type = catalog.get('resident-id-card');
  if (!type) throw new Error('no resident-id-card in the catalog');
  for (const [id, system, matter, rateLimit] of POLICIES) {
    const policy = {
      version: 1,
      id,
      title: `Rate limit test: ${id}`,
      requester: { department: system.split('/')[0], systems: [system] },
      validFrom: '2026-01-01',
      rateLimit,
      grants: [
        {
          id: `${id}-id-card`,
          certificateType: 'resident-id-card',
          matters: [{ code: matter, name: 'Rate limit test matter' }],
          fields: catalog.recordFields('resident-id-card', type.schemaVersion),
          legalBasis: 'Test fixture: not a real grant.',
        },
      ],
    };
    await writeFile(path.join(dir, `${id}.json`), JSON.stringify(policy, null, 2));
  }
}

interface Answer {
  status: number;
  retryAfter: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: problem JSON; assertions check its shape.
  body: Record<string, any>;
}

let env: TestGatewayEnvironment;
let a: RunningGateway;
let b: RunningGateway;

beforeAll(async () => {
  env = await createTestGatewayEnvironment(`rate-limit-${randomBytes(4).toString('hex')}`);
  await writePolicies(path.join(env.dataDir, 'policies'));
  // One after the other: both bootstrap the demo identities.
  a = await env.start('rate-limit-a');
  b = await env.start('rate-limit-b');
}, 90_000);

afterAll(async () => {
  await env?.cleanup();
});

async function caller(system: string, matter: string) {
  const token = await demoToken(env.dataDir, system);
  return async (gateway: RunningGateway): Promise<Answer> => {
    const response = await fetch(`${gateway.url}/v1/lookups`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({
        certificateType: 'resident-id-card',
        subject: lookupSubject('resident-id-card'),
        purpose: { matter, caseRef: 'CASE-2026-000123', officer: 'officer-042' },
      }),
    });
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: (await response.json()) as Answer['body'],
    };
  };
}

/** Past the policy: allowed, then refused for want of a connector (registered or online). */
const passed = (answer: Answer) =>
  answer.status === 503 &&
  [`${PROBLEM_TYPE_BASE}connector-not-registered`, `${PROBLEM_TYPE_BASE}no-live-connector`].includes(
    answer.body.type,
  );

describe('a requester alternating between two gateway instances', () => {
  it('gets 429 after the burst counted across both, not twice the burst', async () => {
    const lookup = await caller(MARRIAGE_REGISTRY, 'RL-0001');
    const answers: Array<Answer & { seconds: number }> = [];
    const started = performance.now();
    for (let i = 0; i < 10; i += 1) {
      const answer = await lookup(i % 2 === 0 ? a : b);
      answers.push({ ...answer, seconds: (performance.now() - started) / 1000 });
    }
    expect(answers.map((answer) => (passed(answer) ? 'allowed' : answer.status))).toEqual([
      ...Array(4).fill('allowed'),
      ...Array(6).fill(429),
    ]);
    // The same 429 as one instance answers: at 6 a minute a whole token is 10 s away from an empty
    // bucket, a little less as time goes by (a slow machine may take a second over these lookups).
    for (const limited of answers.slice(4)) {
      const retryAfter = Number(limited.retryAfter);
      expect(retryAfter, JSON.stringify(limited)).toBeLessThanOrEqual(10);
      expect(retryAfter, JSON.stringify(limited)).toBeGreaterThanOrEqual(Math.floor(10 - limited.seconds));
      expect(limited.body).toMatchObject({
        type: `${PROBLEM_TYPE_BASE}rate-limited`,
        status: 429,
        reason: 'rate-limited',
        retryAfterSeconds: retryAfter,
        policyId: 'rate-exact/rate-exact-id-card',
      });
    }
    // Quickly enough, exactly what one instance says.
    if ((answers[4]?.seconds ?? 99) < 1) expect(answers[4]?.retryAfter).toBe('10');
  });

  it('is allowed again on either instance once the shared bucket refills', async () => {
    const lookup = await caller(REAL_ESTATE_REGISTRY, 'RL-0002');
    const started = performance.now();
    let allowed = 0;
    let limited: Answer | undefined;
    for (let i = 0; i < 20 && !limited; i += 1) {
      const answer = await lookup(i % 2 === 0 ? a : b);
      if (passed(answer)) allowed += 1;
      else limited = answer;
    }
    const seconds = (performance.now() - started) / 1000;
    // 2 a second: the burst of 4, and what refilled meanwhile (at most a lease period's worth more).
    expect(allowed).toBeGreaterThanOrEqual(4);
    expect(allowed).toBeLessThanOrEqual(4 + Math.floor(2 * (seconds + 1)));
    expect(limited?.status).toBe(429);
    expect(limited?.retryAfter).toBe('1');
    expect(limited?.body.retryAfterSeconds).toBe(1);
    // Half a second later a token is back: on whichever instance asks first, then the other.
    for (const gateway of [b, a]) {
      await vi.waitFor(
        async () => {
          expect(passed(await lookup(gateway))).toBe(true);
        },
        { timeout: 5_000, interval: 100 },
      );
    }
  });
});

describe('concurrent lookups on both instances', () => {
  it('allow exactly the burst between them', async () => {
    const lookup = await caller(APPROVAL, 'RL-0003');
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => lookup(i % 2 === 0 ? a : b)));
    expect(answers.filter(passed)).toHaveLength(10);
    const limited = answers.filter((answer) => answer.status === 429);
    expect(limited).toHaveLength(20);
    for (const answer of limited) expect(['9', '10']).toContain(answer.retryAfter);
  });

  it('with leases of several tokens, stay within the burst plus what a lease period refills', async () => {
    // 600 a minute, burst 50: leases of 5 tokens, for at most a second.
    const lookup = await caller(APPROVAL, 'RL-0004');
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 120 }, (_, i) => lookup(i % 2 === 0 ? a : b)));
    const seconds = (performance.now() - started) / 1000;
    const allowed = answers.filter(passed).length;
    expect(answers.filter((answer) => !passed(answer)).every((answer) => answer.status === 429)).toBe(true);
    // At most burst + rate x (t + 1 s); at least the burst less what the other instance may hold.
    expect(allowed).toBeLessThanOrEqual(50 + Math.floor(10 * (seconds + 1)));
    expect(allowed).toBeGreaterThanOrEqual(50 - 4);
    expect(allowed).toBeLessThan(100);
  });
});
