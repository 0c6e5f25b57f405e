/**
 * Identity and policy in front of the real lookup pipeline (LookupService and its routes): the demo
 * identities bootstrapped into PostgreSQL, tokens signed with the demo key files, the sample policies
 * from policies/, and a provider stub that answers every lookup with a full record, so what the
 * requester receives is exactly what projection and masking left of it.
 */
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, LookupAuditEvent } from '../../gateway/audit/audit-events.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { policiesDir, schemasDir } from '../../gateway/foundation/paths.js';
import { problemErrorHandler } from '../../gateway/http/problem.js';
import { createAuthenticator } from '../../gateway/identity/authenticator.js';
import { createRefusalAuditMiddleware } from '../../gateway/identity/refusal-audit.js';
import { privateSigningKey } from '../../gateway/identity/system-keys.js';
import { signToken } from '../../gateway/identity/token-signer.js';
import { createLookupRouter } from '../../gateway/lookups/lookup-routes.js';
import type { DepartmentSignature } from '../../gateway/lookups/lookup-service.js';
import { LookupService } from '../../gateway/lookups/lookup-service.js';
import { loadCertificateFields } from '../../gateway/policy/certificate-fields.js';
import { createPolicyEngine, type PolicyEngine } from '../../gateway/policy/policy-engine.js';
import { createPolicyRouter } from '../../gateway/policy/policy-routes.js';
import type { IncomingMessage } from '../../gateway/protocol/bus.js';
import { signReply } from '../../gateway/protocol/department-signature.js';
import type { LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';
import { unkeyedSubjectKey } from '../../gateway/protocol/subject-key.js';
import { topicNames } from '../../gateway/protocol/topics.js';
import {
  bootstrapDemo,
  type DemoBootstrapResult,
  demoKeyFile,
} from '../../gateway/registry/demo-bootstrap.js';
import { createRegistry, type Registry } from '../../gateway/registry/registry.js';
import type { Database } from '../../gateway/storage/database.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { departmentIdentities, registeredTypes } from '../support/department-keys.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const PROBLEM = 'https://silobridge.dev/problems/';
const APPROVAL = 'service-centre/approval';
const logger = createLogger('silent');

const RECORDS: Record<string, Record<string, unknown>> = {
  'resident-id-card': {
    residentIdNumber: '11010519491231002X',
    name: '王小明',
    sex: 'male',
    ethnicity: '汉',
    dateOfBirth: '1949-12-31',
    address: '福建省福州市鼓楼区五四路100号',
    issuingAuthority: '福州市公安局鼓楼分局',
    issuedOn: '2015-03-01',
    validUntil: '2035-03-01',
    status: 'valid',
  },
  'marriage-certificate': {
    licenceId: '1235010000000000000000000000000000000001',
    certificateNumber: 'J350102-2020-000123',
    registeredOn: '2020-05-20',
    spouses: [
      {
        name: '王小明',
        sex: 'male',
        dateOfBirth: '1990-03-07',
        nationality: '中国',
        residentIdNumber: '350102199003070014',
      },
      {
        name: '李小红',
        sex: 'female',
        dateOfBirth: '1992-04-15',
        nationality: '中国',
        residentIdNumber: '350102199204150026',
      },
    ],
    issuingAuthority: '福州市鼓楼区民政局',
    issuedOn: '2020-05-20',
    status: 'valid',
  },
  'business-licence': {
    unifiedSocialCreditCode: '91350100M000100Y43',
    name: '福州示例餐饮有限公司',
    entityType: '有限责任公司（自然人投资或控股）',
    legalRepresentative: '陈大文',
    registeredCapitalYuan: 1000000,
    establishedOn: '2018-06-01',
    operatingPeriodFrom: '2018-06-01',
    domicile: '福建省福州市鼓楼区东街1号',
    businessScope: '餐饮服务',
    issuingAuthority: '福州市鼓楼区市场监督管理局',
    issuedOn: '2018-06-01',
    status: 'valid',
  },
};

let testDatabase: TestDatabase;
let database: Database;
let registry: Registry;
let dataDir: string;
let policyDir: string;
let demo: DemoBootstrapResult;
let engine: PolicyEngine;
let server: Server;
let url: string;
const audit: AuditEvent[] = [];
const recorder = { record: async (event: AuditEvent) => void audit.push(event) };
const sent: LookupRequestEnvelope[] = [];

async function demoToken(systemId: string): Promise<string> {
  const key = await privateSigningKey(JSON.parse(await readFile(demoKeyFile(dataDir, systemId), 'utf8')));
  return signToken({ systemId, key, audience: 'silobridge', lifetimeSeconds: 300 });
}

async function providerStub() {
  const fields = (await loadCertificateFields(schemasDir)) ?? new Map();
  const providers = new Map<string, string>();
  for (const type of fields.keys()) {
    const schema = JSON.parse(
      await readFile(path.join(schemasDir, 'certificates', type, '1.schema.json'), 'utf8'),
    );
    providers.set(type, schema['x-silobridge'].provider);
  }
  const ok = { ok: true as const, errors: [] };
  const catalog = {
    get: (type: string) =>
      providers.has(type) ? { provider: providers.get(type), schemaVersion: 1 } : undefined,
    validateSubject: () => ok,
    recordFields: (type: string) => [...(fields.get(type) ?? [])],
    validateEnvelope: () => ok,
    validateRecord: () => ok,
    providers: () => [...new Set(providers.values())],
  };
  const replies = {
    async request(send: { correlationId: string; value: string }): Promise<IncomingMessage> {
      const envelope = JSON.parse(send.value) as LookupRequestEnvelope;
      sent.push(envelope);
      const reply = {
        version: 1,
        lookupId: envelope.lookupId,
        outcome: 'found',
        certificateType: envelope.certificateType,
        schemaVersion: 1,
        // The stub ignores `fields`: whatever it sends, the gateway must project and mask.
        record: RECORDS[envelope.certificateType],
        connector: { department: providers.get(envelope.certificateType) ?? '', instanceId: 'stub-1' },
      } as const;
      const signed = {
        ...reply,
        ...(await signReply(identities.signerFor(reply.connector.department), reply)),
      };
      return {
        topic: 'replies',
        partition: 0,
        offset: '0',
        key: undefined,
        value: JSON.stringify(signed),
        headers: { kafka_correlationId: send.correlationId },
        timestamp: Date.now(),
      };
    },
  };
  return new LookupService({
    catalog: catalog as never,
    bus: { publish: async () => {} } as never,
    replies: replies as never,
    directory: { liveInstances: () => [{}] } as never,
    registrations: registeredTypes(...providers.keys()),
    signatures: identities.signatures,
    topics: topicNames('test'),
    policy: engine,
    audit: recorder,
    logger,
    timeoutMs: 2000,
    subjectKey: unkeyedSubjectKey,
  });
}

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  database = createPostgresDatabase({ connectionString: testDatabase.url });
  registry = createRegistry({ database, audit: recorder, refreshIntervalMs: 0 });
  dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-data-'));
  demo = await bootstrapDemo({ registry, dataDir });

  // The sample policies, with the approval workflow's rate turned down so the test can reach it.
  policyDir = await mkdtemp(path.join(tmpdir(), 'silobridge-policies-'));
  await cp(policiesDir, policyDir, { recursive: true });
  const serviceCentre = path.join(policyDir, 'service-centre.yaml');
  const text = await readFile(serviceCentre, 'utf8');
  await writeFile(
    serviceCentre,
    text.replace('requestsPerMinute: 600\n  burst: 120', 'requestsPerMinute: 60\n  burst: 12'),
  );
  engine = await createPolicyEngine({ dir: policyDir, logger, audit: recorder });

  const authenticator = createAuthenticator({ registry, audience: 'silobridge', audit: recorder, logger });
  const app = express();
  app.use(express.json());
  app.use(
    createLookupRouter({
      service: await providerStub(),
      authenticate: authenticator.middleware,
      // Response signing is tested with the audit log (audit-signing.test.ts).
      sign: async () => 'not-signed-in-this-test',
    }),
  );
  app.use(createPolicyRouter({ engine, authenticate: authenticator.middleware }));
  app.use(createRefusalAuditMiddleware(recorder, logger));
  app.use(problemErrorHandler);
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.close();
  await engine?.close();
  await database?.close();
  await testDatabase?.drop();
  for (const dir of [dataDir, policyDir]) if (dir) await rm(dir, { recursive: true, force: true });
});

async function post(pathname: string, bearer: string | undefined, body: unknown) {
  const response = await fetch(`${url}${pathname}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

async function get(pathname: string, bearer: string) {
  const response = await fetch(`${url}${pathname}`, { headers: { Authorization: `Bearer ${bearer}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const idCardLookup = (matter = 'SC-0201', fields?: string[]) => ({
  certificateType: 'resident-id-card',
  subject: { residentIdNumber: '11010519491231002X' },
  purpose: { matter, caseRef: '2026-SC-000123', officer: 'officer-042' },
  ...(fields ? { fields } : {}),
});

const identities = departmentIdentities();

describe('the demo identities', () => {
  it('are bootstrapped once, with private keys only their owner can read', async () => {
    expect(demo.identities.map((identity) => identity.systemId)).toEqual([
      'service-centre/approval',
      'civil-affairs/marriage-registry',
      'natural-resources/real-estate-registry',
      'data-office/audit-console',
      'data-office/gateway-admin',
      // The sample connectors' systems, which sign their replies.
      'market-regulation/connector',
      'public-security/connector',
      'civil-affairs/connector',
      'natural-resources/connector',
    ]);
    expect((await registry.listRegistrations()).map((registration) => registration.department)).toEqual([
      'civil-affairs',
      'market-regulation',
      'natural-resources',
      'public-security',
    ]);
    for (const identity of demo.identities) expect((await stat(identity.keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dataDir, 'demo-keys'))).mode & 0o777).toBe(0o700);
    expect(demo.banner).toContain(`TOKEN=$(npx silobridge token --system ${APPROVAL} --key `);
    const again = await bootstrapDemo({ registry, dataDir });
    expect(again.created).toEqual([]);
  });

  it('repairs a demo system whose key file went missing', async () => {
    const file = demoKeyFile(dataDir, 'natural-resources/real-estate-registry');
    await rm(file);
    const repaired = await bootstrapDemo({ registry, dataDir });
    expect(repaired.created).toEqual(['key for natural-resources/real-estate-registry']);
    const token = await demoToken('natural-resources/real-estate-registry');
    expect((await get('/v1/policies/effective', token)).status).toBe(200);
  });
});

describe('lookups under the sample policies', () => {
  it('projects and masks a single lookup', async () => {
    const response = await post('/v1/lookups', await demoToken(APPROVAL), idCardLookup());
    expect(response.status).toBe(200);
    expect(response.body.record).toEqual({
      residentIdNumber: '110105********002X',
      name: '王小明',
      sex: 'male',
      address: '福建省福州市鼓楼区五四路100号',
      validUntil: '2035-03-01',
      status: 'valid',
    });
    // The provider was told which fields to send, too.
    expect(sent.at(-1)?.fields).toEqual([
      'residentIdNumber',
      'name',
      'sex',
      'address',
      'validUntil',
      'status',
    ]);
    expect(sent.at(-1)?.requester).toEqual({ department: 'service-centre', system: APPROVAL });
    // The department's signature comes along, with a disclosure for each field released unchanged; the
    // masked ID number has none, so nothing lets anyone recover what the department signed for it.
    const departmentSignature = response.body.departmentSignature as DepartmentSignature;
    expect(departmentSignature.keyId).toBe(
      `${identities.of('public-security').systemId}#${identities.of('public-security').kid}`,
    );
    expect(Object.keys(departmentSignature.disclosures).sort()).toEqual([
      'address',
      'name',
      'sex',
      'status',
      'validUntil',
    ]);
  });

  it('masks inside arrays (both spouses) and honours a narrower field list', async () => {
    const response = await post('/v1/lookups', await demoToken(APPROVAL), {
      certificateType: 'marriage-certificate',
      subject: { certificateNumber: 'J350102-2020-000123' },
      purpose: { matter: 'SC-0401', caseRef: '2026-SC-000124', officer: 'officer-042' },
      fields: ['spouses', 'status'],
    });
    expect(response.status).toBe(200);
    expect(response.body.record).toEqual({
      spouses: [
        {
          name: '王小明',
          sex: 'male',
          dateOfBirth: '1990-03-07',
          nationality: '中国',
          residentIdNumber: '350102********0014',
        },
        {
          name: '李小红',
          sex: 'female',
          dateOfBirth: '1992-04-15',
          nationality: '中国',
          residentIdNumber: '350102********0026',
        },
      ],
      status: 'valid',
    });
    // Masking reached into `spouses`: that field as a whole no longer matches what the department signed.
    expect(Object.keys((response.body.departmentSignature as DepartmentSignature).disclosures)).toEqual([
      'status',
    ]);
  });

  it('refuses a field the policy does not grant, naming it', async () => {
    const response = await post(
      '/v1/lookups',
      await demoToken(APPROVAL),
      idCardLookup('SC-0201', ['name', 'dateOfBirth']),
    );
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({
      type: `${PROBLEM}access-denied`,
      reason: 'field-not-allowed',
      fields: ['dateOfBirth'],
      policyId: 'service-centre/SC-ID',
    });
    const denied = audit.filter((e): e is LookupAuditEvent => e.kind === 'lookup').at(-1);
    expect(denied).toMatchObject({ outcome: 'denied', status: 403, requester: { system: APPROVAL } });
  });

  it('answers a batch item by item, with projection and masking on each', async () => {
    const response = await post('/v1/lookups:batch', await demoToken(APPROVAL), {
      lookups: [
        idCardLookup(),
        idCardLookup('CA-0101'),
        {
          ...idCardLookup(),
          certificateType: 'food-business-licence',
          subject: { licenceNumber: 'JY13501020000001' },
        },
        {
          certificateType: 'business-licence',
          subject: { unifiedSocialCreditCode: '91350100M000100Y43' },
          purpose: { matter: 'SC-0101', caseRef: '2026-SC-000125', officer: 'officer-042' },
        },
      ],
    });
    expect(response.status).toBe(200);
    const results = response.body.results as Array<{
      status: number;
      lookup?: { record: object };
      problem?: object;
    }>;
    expect(results.map((result) => result.status)).toEqual([200, 403, 403, 200]);
    expect(results[0]?.lookup?.record).toMatchObject({ residentIdNumber: '110105********002X' });
    expect(results[0]?.lookup?.record).not.toHaveProperty('ethnicity');
    expect(results[1]?.problem).toMatchObject({ reason: 'matter-not-allowed', matter: 'CA-0101' });
    expect(results[2]?.problem).toMatchObject({ reason: 'type-not-allowed' });
    expect(results[3]?.lookup?.record).not.toHaveProperty('registeredCapitalYuan');
    expect(Object.keys(results[3]?.lookup?.record ?? {})).toHaveLength(10);
  });

  it('lets the marriage registry see the full ID number its policy grants', async () => {
    const response = await post(
      '/v1/lookups',
      await demoToken('civil-affairs/marriage-registry'),
      idCardLookup('CA-0101'),
    );
    expect(response.status).toBe(200);
    expect(response.body.record).toMatchObject({ residentIdNumber: '11010519491231002X', ethnicity: '汉' });
  });

  it('refuses systems without the lookup role in the registry, and callers without a token', async () => {
    const officer = await post('/v1/lookups', await demoToken('data-office/audit-console'), idCardLookup());
    expect(officer.status).toBe(403);
    expect(officer.body).toMatchObject({ type: `${PROBLEM}missing-role`, requiredRole: 'lookup' });
    const anonymous = await post('/v1/lookups:batch', undefined, { lookups: [idCardLookup()] });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.type).toBe(`${PROBLEM}token-missing`);
    expect(audit.filter((e) => e.kind === 'access-refused').slice(-2)).toMatchObject([
      { status: 403, reason: 'missing-role', requester: { system: 'data-office/audit-console' } },
      { status: 401, reason: 'token-missing', path: '/v1/lookups:batch' },
    ]);
  });

  it('answers 429 with Retry-After once the requester is over its rate', async () => {
    const token = await demoToken(APPROVAL);
    let response = await post('/v1/lookups', token, idCardLookup());
    for (let i = 0; i < 20 && response.status === 200; i += 1)
      response = await post('/v1/lookups', token, idCardLookup());
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(response.body).toMatchObject({
      type: `${PROBLEM}rate-limited`,
      reason: 'rate-limited',
      retryAfterSeconds: 1,
    });
    // Another requester has its own bucket.
    expect(
      (await post('/v1/lookups', await demoToken('civil-affairs/marriage-registry'), idCardLookup('CA-0101')))
        .status,
    ).toBe(200);
  });
});

describe('the effective policy endpoint', () => {
  it('shows a system what it may see, and its department', async () => {
    const token = await demoToken(APPROVAL);
    const own = await get('/v1/policies/effective', token);
    expect(own.status).toBe(200);
    const grants = own.body.grants as Array<{ certificateType: string; masked: object; status: string }>;
    expect(grants.map((grant) => grant.certificateType)).toEqual([
      'business-licence',
      'marriage-certificate',
      'real-estate-certificate',
      'resident-id-card',
    ]);
    expect(grants[3]?.masked).toEqual({ residentIdNumber: 'shows only the first 6 and last 4 characters' });
    expect((await get('/v1/policies/effective?requester=service-centre', token)).status).toBe(200);
  });

  it("keeps other departments' powers to data officers and admins", async () => {
    const approval = await demoToken(APPROVAL);
    const other = await get('/v1/policies/effective?requester=civil-affairs/marriage-registry', approval);
    expect(other.status).toBe(403);
    const officer = await get(
      '/v1/policies/effective?requester=civil-affairs/marriage-registry',
      await demoToken('data-office/audit-console'),
    );
    expect(officer.status).toBe(200);
    expect((officer.body.grants as unknown[]).length).toBe(1);
    const bad = await get('/v1/policies/effective?requester=Not%20A%20System', approval);
    expect(bad.status).toBe(400);
    const summary = await get('/v1/policies', await demoToken('data-office/gateway-admin'));
    expect((summary.body.policies as unknown[]).length).toBe(5);
  });
});
