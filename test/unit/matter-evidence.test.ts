/**
 * The matter catalogue and evidence bundles as an approval system uses them, on an embedded gateway
 * (PGlite, in-process bus) with the sample departments' connectors: one slow on demand, one absent.
 * A bundle answers every certificate a matter names, each verifiable as a lookup response, signed as a
 * whole, within one deadline; each item is an audit event carrying the bundle id.
 */
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSampleHandlers } from '../../connectors/samples/sample-connectors.js';
import { policiesDir, sampleSeedDir } from '../../gateway/foundation/paths.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import { verifyEvidenceBundle } from '../../gateway/matters/bundle-signature.js';
import type { JsonWebKeySet } from '../../gateway/signing/jws.js';
import { verifySavedLookupResponse } from '../../gateway/signing/lookup-response-verifier.js';
import {
  delayedSampleHandlers,
  type EmbeddedGateway,
  startEmbeddedGateway,
} from '../support/embedded-gateway.js';
import { demoToken } from '../support/gateway-auth.js';

const TIMEOUT_MS = 1500;
const APPROVAL = 'service-centre/approval';
const REGISTRY = 'natural-resources/real-estate-registry';
/** Holds an ID card, a marriage certificate and a home: all three of SC-0201. */
const LIN = '35010219850101123X';
/** Holds an ID card and a marriage certificate, but no real estate. */
const NO_HOME = '350121199312010717';
const COMPANY = '91350100M000100Y43';
const CASE = { caseRef: 'SC-2026-000123', officer: 'officer-042' };

let embedded: EmbeddedGateway;
let dataDir: string;
let gateway: RunningGateway;
let civilAffairsDelayMs = 0;

/** A test policy: the approval system may fetch SC-0201's three types, NR-0101's ID card only, ... */
function testPolicies() {
  const all = (type: string, matters: string[], fields: string[], mask?: Record<string, unknown>) => ({
    id: `T-${type}`,
    certificateType: type,
    matters: matters.map((code) => ({ code, name: code })),
    fields,
    ...(mask ? { mask } : {}),
    legalBasis: 'Test fixture: not a real grant.',
  });
  const policy = (id: string, system: string, rate: number, grants: unknown[]) => ({
    version: 1,
    id,
    title: id,
    requester: { department: system.split('/')[0], systems: [system] },
    validFrom: '2026-01-01',
    rateLimit: { requestsPerMinute: rate, burst: rate },
    grants,
  });
  return {
    'approval.json': policy('matters-approval', APPROVAL, 10_000, [
      all(
        'resident-id-card',
        ['SC-0201', 'NR-0101', 'TEST-ALT', 'TEST-ALT-FIRST'],
        ['residentIdNumber', 'name', 'status'],
        {
          residentIdNumber: { keepStart: 6, keepEnd: 4 },
        },
      ),
      all('real-estate-certificate', ['SC-0201'], ['certificateNumber', 'location', 'status']),
      all('marriage-certificate', ['SC-0201'], ['certificateNumber', 'registeredOn', 'status']),
      all('business-licence', ['SC-0101'], ['name', 'status']),
    ]),
    // Two lookups a minute: one NR-0101 bundle uses both.
    'registry.json': policy('matters-registry', REGISTRY, 2, [
      all('resident-id-card', ['NR-0101'], ['name', 'status']),
      all('marriage-certificate', ['NR-0101'], ['certificateNumber', 'status']),
    ]),
  };
}

/** Either a marriage certificate or an ID card proves who the applicant is (alternatives). */
const ALTERNATIVES = `version: 1
matters:
  - code: TEST-ALT
    name: { zh: 测试事项, en: Test matter with alternatives }
    party: person
    legalBasis: Test fixture.
    evidence:
      - id: identity
        name: { zh: 身份, en: Identity }
        required: true
        anyOf: [marriage-certificate, resident-id-card]
  - code: TEST-ALT-FIRST
    name: { zh: 测试事项二, en: Test matter whose first alternative is found }
    party: person
    legalBasis: Test fixture.
    evidence:
      - id: identity
        name: { zh: 身份, en: Identity }
        required: true
        anyOf: [resident-id-card, marriage-certificate]
`;

beforeAll(async () => {
  embedded = await startEmbeddedGateway({
    env: { SILOBRIDGE_SAMPLE_CONNECTORS: 'false', SILOBRIDGE_LOOKUP_TIMEOUT_MS: String(TIMEOUT_MS) },
    writePolicies: async (policies) => {
      for (const [file, policy] of Object.entries(testPolicies()))
        await writeFile(path.join(policies, file), JSON.stringify(policy));
      await cp(path.join(policiesDir, 'matters'), path.join(policies, 'matters'), { recursive: true });
      await writeFile(path.join(policies, 'matters', 'test.yaml'), ALTERNATIVES);
    },
  });
  ({ gateway, dataDir } = embedded);
  // market-regulation has no connector running: its department is down.
  for (const department of ['public-security', 'natural-resources']) {
    await embedded.startConnector(department, createSampleHandlers(department, sampleSeedDir));
  }
  await embedded.startConnector(
    'civil-affairs',
    delayedSampleHandlers('civil-affairs', () => civilAffairsDelayMs),
  );
  // Until every connector's heartbeat arrived, items answer `unavailable`.
  await vi.waitFor(
    async () => {
      const bundle = await collect('SC-0201', { residentIdNumber: LIN });
      expect(bundle.body.items.map((item: { status: string }) => item.status)).toEqual([
        'found',
        'found',
        'found',
      ]);
    },
    { timeout: 20_000, interval: 200 },
  );
}, 90_000);

afterAll(async () => {
  await embedded?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: response JSON; assertions check its shape.
type Json = Record<string, any>;

async function call(method: string, route: string, body?: unknown, system = APPROVAL) {
  const startedAt = performance.now();
  const response = await fetch(`${gateway.url}${route}`, {
    method,
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${await demoToken(dataDir, system)}`,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: response.status,
    body: (await response.json()) as Json,
    ms: performance.now() - startedAt,
  };
}

const collect = (code: string, applicant: Record<string, string>, system = APPROVAL) =>
  call('POST', `/v1/matters/${code}/evidence`, { applicant, ...CASE }, system);

const published = async (route: string) =>
  (await (await fetch(`${gateway.url}${route}`)).json()) as JsonWebKeySet;

const byType = (bundle: Json, certificateType: string): Json =>
  bundle.items.find((item: Json) => item.certificateType === certificateType);

describe('GET /v1/matters', () => {
  it('lists the catalogue with, per certificate type, whether the caller’s policy allows it', async () => {
    const list = await call('GET', '/v1/matters');
    expect(list.status).toBe(200);
    expect(list.body.matters.map((matter: Json) => matter.code)).toEqual(
      expect.arrayContaining(['SC-0201', 'NR-0101', 'TEST-ALT']),
    );
    const matter = await call('GET', '/v1/matters/NR-0101');
    expect(matter.status).toBe(200);
    expect(matter.body).toMatchObject({
      code: 'NR-0101',
      party: 'person',
      applicantIdentifiers: ['residentIdNumber'],
      requiredEvidenceAllowed: true,
    });
    const types = matter.body.evidence.flatMap((item: Json) => item.certificateTypes);
    expect(types).toEqual([
      expect.objectContaining({
        certificateType: 'resident-id-card',
        provider: 'public-security',
        subject: ['residentIdNumber'],
        policy: {
          allowed: true,
          policyId: 'matters-approval/T-resident-id-card',
          fields: ['residentIdNumber', 'name', 'status'],
          masked: { residentIdNumber: expect.any(String) },
        },
      }),
      expect.objectContaining({
        certificateType: 'marriage-certificate',
        policy: { allowed: false, reason: 'matter-not-allowed' },
      }),
    ]);
  });

  it('answers 404 matter-not-found for a matter not in the catalogue, to GET and POST', async () => {
    for (const response of [
      await call('GET', '/v1/matters/XX-9999'),
      await collect('XX-9999', { residentIdNumber: LIN }),
    ]) {
      expect(response.status).toBe(404);
      expect(response.body.type).toBe('https://silobridge.dev/problems/matter-not-found');
    }
  });
});

describe('POST /v1/matters/{code}/evidence', () => {
  it('answers the three certificates of three departments, each verifiable, in one signed bundle', async () => {
    const { status, body } = await collect('SC-0201', { residentIdNumber: LIN });
    expect(status).toBe(200);
    expect(body.matter).toBe('SC-0201');
    expect(body.missing).toEqual([]);
    expect(
      body.items.map((item: Json) => [item.evidence, item.certificateType, item.required, item.provider]),
    ).toEqual([
      ['operator-identity', 'resident-id-card', true, 'public-security'],
      ['premises', 'real-estate-certificate', true, 'natural-resources'],
      ['family-relationship', 'marriage-certificate', false, 'civil-affairs'],
    ]);
    expect(byType(body, 'resident-id-card').record.residentIdNumber).toBe('350102********123X');

    const departmentKeys = await published('/.well-known/department-jwks.json');
    const gatewayKeys = await published('/.well-known/jwks.json');
    for (const item of body.items) {
      const report = await verifySavedLookupResponse(item, { departmentKeys, gatewayKeys });
      expect(report.failures, item.certificateType).toEqual([]);
      expect(report.ok).toBe(true);
    }
    const signed = await verifyEvidenceBundle(body.signature, gatewayKeys);
    expect(signed).toMatchObject({
      bundleId: body.bundleId,
      matter: 'SC-0201',
      requester: { department: 'service-centre', system: APPROVAL },
      items: body.items.map((item: Json) => ({
        evidence: item.evidence,
        certificateType: item.certificateType,
        lookupId: item.lookupId,
        status: 'found',
        recordDigest: item.recordDigest,
      })),
    });
  });

  it('records each item as a lookup audit event carrying the bundle id and the matter as purpose', async () => {
    const { body } = await collect('SC-0201', { residentIdNumber: LIN });
    await vi.waitFor(async () => {
      const { rows } = await gateway.database.query<{ event: Json }>(
        "SELECT event FROM audit_events WHERE event->>'bundleId' = $1 ORDER BY sequence",
        [body.bundleId],
      );
      expect(rows.map((row) => row.event.lookupId).sort()).toEqual(
        body.items.map((item: Json) => item.lookupId).sort(),
      );
      for (const { event } of rows) {
        expect(event).toMatchObject({
          kind: 'lookup',
          outcome: 'granted',
          purpose: { matter: 'SC-0201', ...CASE },
          requester: { system: APPROVAL },
        });
        // Identifiers are stored only as keyed hashes, as for any lookup.
        expect(JSON.stringify(event)).not.toContain(LIN);
      }
    });
  });

  it('gives a slow department’s item timed-out and the others found, within one deadline', async () => {
    civilAffairsDelayMs = TIMEOUT_MS * 2;
    try {
      const { status, body, ms } = await collect('SC-0201', { residentIdNumber: LIN });
      expect(status).toBe(200);
      expect(byType(body, 'marriage-certificate')).toMatchObject({
        status: 'timed-out',
        reason: 'provider-timeout',
        lookupId: expect.any(String),
      });
      expect(byType(body, 'resident-id-card').status).toBe('found');
      expect(byType(body, 'real-estate-certificate').status).toBe('found');
      // Optional evidence: nothing to ask the applicant for.
      expect(body.missing).toEqual([]);
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(ms).toBeLessThan(TIMEOUT_MS + 1000);
    } finally {
      civilAffairsDelayMs = 0;
    }
  });

  it('gives an item of a department with no connector online unavailable, and names it missing', async () => {
    const { status, body } = await collect('SC-0101', { unifiedSocialCreditCode: COMPANY });
    expect(status).toBe(200);
    expect(body.items).toEqual([
      expect.objectContaining({
        certificateType: 'business-licence',
        status: 'unavailable',
        reason: expect.stringMatching(/^(no-live-connector|connector-not-registered)$/),
      }),
    ]);
    expect(body.missing).toEqual([
      { evidence: 'operator', name: expect.any(Object), anyOf: ['business-licence'] },
    ]);
  });

  it('names a denied item with the policy’s reason', async () => {
    const { body } = await collect('NR-0101', { residentIdNumber: LIN });
    expect(byType(body, 'marriage-certificate')).toMatchObject({
      status: 'denied',
      reason: 'matter-not-allowed',
      required: false,
      lookupId: expect.any(String),
    });
    expect(byType(body, 'marriage-certificate').record).toBeUndefined();
    expect(byType(body, 'resident-id-card').status).toBe('found');
  });

  it('names a required item not found in missing, with what else the applicant may bring, and nothing more', async () => {
    const { body } = await collect('SC-0201', { residentIdNumber: NO_HOME });
    expect(byType(body, 'real-estate-certificate')).toMatchObject({
      status: 'not-found',
      reason: 'record-not-found',
    });
    expect(body.missing).toEqual([
      {
        evidence: 'premises',
        name: { zh: '经营场所使用证明', en: 'Right to use the business premises' },
        anyOf: ['real-estate-certificate'],
        otherwise: expect.objectContaining({ zh: expect.any(String) }),
      },
    ]);
  });

  it('takes any one alternative as enough', async () => {
    const { body } = await collect('TEST-ALT', { residentIdNumber: LIN });
    expect(byType(body, 'marriage-certificate').status).toBe('denied');
    expect(byType(body, 'resident-id-card').status).toBe('found');
    expect(body.missing).toEqual([]);
  });

  it('fetches no more than the matter needs: once an alternative is found, the next is not looked up', async () => {
    const { body } = await collect('TEST-ALT-FIRST', { residentIdNumber: LIN });
    expect(body.items.map((item: Json) => [item.certificateType, item.status])).toEqual([
      ['resident-id-card', 'found'],
    ]);
    const { rows } = await gateway.database.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM audit_events WHERE event->>'bundleId' = $1`,
      [body.bundleId],
    );
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it('counts each item against the policy’s rate limit, as a lookup', async () => {
    const first = await collect('NR-0101', { residentIdNumber: LIN }, REGISTRY);
    expect(first.body.items.map((item: Json) => item.status)).toEqual(['found', 'found']);
    const second = await collect('NR-0101', { residentIdNumber: LIN }, REGISTRY);
    expect(second.body.items.map((item: Json) => [item.status, item.reason])).toEqual([
      ['denied', 'rate-limited'],
      ['denied', 'rate-limited'],
    ]);
  });

  it('refuses an applicant identifier with a bad check character, naming the field and not its value', async () => {
    const bad = `${LIN.slice(0, 17)}1`;
    const { status, body } = await collect('SC-0201', { residentIdNumber: bad });
    expect(status).toBe(400);
    expect(body.type).toBe('https://silobridge.dev/problems/invalid-applicant');
    expect(body.errors).toEqual([
      { pointer: '/applicant/residentIdNumber', reason: 'the check character does not match' },
    ]);
    expect(JSON.stringify(body)).not.toContain(bad);
  });

  it('refuses an identifier the matter’s party does not use, and a body without its case', async () => {
    const company = await collect('SC-0201', { residentIdNumber: LIN, unifiedSocialCreditCode: COMPANY });
    expect(company.status).toBe(400);
    expect(company.body.errors).toEqual([
      expect.objectContaining({ pointer: '/applicant/unifiedSocialCreditCode' }),
    ]);
    const person = await collect('SC-0101', { residentIdNumber: LIN });
    expect(person.status).toBe(400);
    expect(person.body.errors.map((error: Json) => error.pointer)).toEqual([
      '/applicant/residentIdNumber',
      '/applicant/unifiedSocialCreditCode',
    ]);
    const noCase = await call('POST', '/v1/matters/SC-0201/evidence', {
      applicant: { residentIdNumber: LIN },
    });
    expect(noCase.status).toBe(400);
    expect(noCase.body.type).toBe('https://silobridge.dev/problems/invalid-request');
  });

  it('needs the lookup role', async () => {
    const audit = await call('GET', '/v1/matters', undefined, 'data-office/audit-console');
    expect(audit.status).toBe(403);
    expect(audit.body.type).toBe('https://silobridge.dev/problems/missing-role');
  });
});
