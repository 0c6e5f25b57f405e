import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../gateway/audit/audit-events.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { problemErrorHandler } from '../../gateway/http/problem.js';
import { type Authenticator, createAuthenticator } from '../../gateway/identity/authenticator.js';
import { createRefusalAuditMiddleware } from '../../gateway/identity/refusal-audit.js';
import {
  type GeneratedKeyPair,
  generateKeyPair,
  privateSigningKey,
  type SigningAlgorithm,
} from '../../gateway/identity/system-keys.js';
import { signToken } from '../../gateway/identity/token-signer.js';
import { createRegistry, type Registry } from '../../gateway/registry/registry.js';
import { createRegistryRouter } from '../../gateway/registry/registry-routes.js';
import type { Database } from '../../gateway/storage/database.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const PROBLEM = 'https://silobridge.dev/problems/';
const ADMIN = 'data-office/gateway-admin';
const APPROVAL = 'service-centre/approval';
const OFFICER = 'data-office/audit-console';
const logger = createLogger('silent');

interface Instance {
  url: string;
  registry: Registry;
  authenticator: Authenticator;
  server: Server;
}

let testDatabase: TestDatabase;
let database: Database;
const audit: AuditEvent[] = [];
const recorder = { record: async (event: AuditEvent) => void audit.push(event) };
const keys = new Map<string, GeneratedKeyPair>();
let main: Instance;

async function startInstance(refreshIntervalMs: number): Promise<Instance> {
  const registry = createRegistry({ database, audit: recorder, refreshIntervalMs, logger });
  const authenticator = createAuthenticator({ registry, audience: 'silobridge', audit: recorder, logger });
  const app = express();
  app.use(express.json());
  app.use(createRegistryRouter({ registry, authenticate: authenticator.middleware }));
  app.use(createRefusalAuditMiddleware(recorder, logger));
  app.use(problemErrorHandler);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    registry,
    authenticator,
    server,
  };
}

async function newKey(name: string, alg: SigningAlgorithm = 'ES256'): Promise<GeneratedKeyPair> {
  const pair = await generateKeyPair(alg);
  keys.set(name, pair);
  return pair;
}

async function token(systemId: string, keyName: string, lifetimeSeconds = 300): Promise<string> {
  const pair = keys.get(keyName);
  if (!pair) throw new Error(`no key ${keyName}`);
  return signToken({
    systemId,
    key: await privateSigningKey(pair.privateJwk),
    audience: 'silobridge',
    lifetimeSeconds,
  });
}

async function call(
  method: string,
  path: string,
  bearer: string | undefined,
  body?: unknown,
  instance: Instance = main,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${instance.url}${path}`, {
    method,
    headers: {
      ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

function expectProblem(
  response: { status: number; body: Record<string, unknown> },
  status: number,
  type: string,
) {
  expect({ status: response.status, type: response.body.type }).toEqual({ status, type: PROBLEM + type });
}

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  database = createPostgresDatabase({ connectionString: testDatabase.url });
  // A long refresh interval: what this instance changes must still take effect on the next request.
  main = await startInstance(60_000);
  const bootstrap = createRegistry({ database, audit: recorder });
  await bootstrap.createDepartment('test', {
    code: 'data-office',
    nameEn: 'Data Administration',
    nameZh: '数据管理局',
  });
  await bootstrap.createSystem('test', {
    id: ADMIN,
    name: 'Gateway administration',
    roles: ['admin'],
    keys: [{ jwk: (await newKey('admin')).publicJwk }],
  });
});

afterAll(async () => {
  main?.server.close();
  await database?.close();
  await testDatabase?.drop();
});

describe('the registry API', () => {
  it('lets an admin register departments and systems with their public keys', async () => {
    const admin = await token(ADMIN, 'admin');
    const department = await call('POST', '/v1/departments', admin, {
      code: 'service-centre',
      nameEn: 'Government Service Centre',
      nameZh: '政务服务中心',
    });
    expect(department.status).toBe(201);
    expect(department.headers.get('location')).toBe('/v1/departments/service-centre');
    const approvalKey = await newKey('approval-1', 'RS256');
    const system = await call('POST', '/v1/systems', admin, {
      id: APPROVAL,
      name: '一网通办审批系统',
      roles: ['lookup'],
      keys: [{ jwk: approvalKey.publicJwk }],
    });
    expect(system.status).toBe(201);
    expect(system.body).toMatchObject({
      id: APPROVAL,
      department: 'service-centre',
      roles: ['lookup'],
      enabled: true,
      keys: [{ kid: approvalKey.kid, alg: 'RS256', status: 'active', createdBy: ADMIN }],
    });
    expect(JSON.stringify(system.body)).not.toContain('"d"');
    const officer = await call('POST', '/v1/systems', admin, {
      id: OFFICER,
      name: '数据审计台',
      roles: ['audit'],
      keys: [{ jwk: (await newKey('officer')).publicJwk }],
    });
    expect(officer.status).toBe(201);
    expect(
      audit.filter((e) => e.kind === 'registry-change').map((e) => e.kind === 'registry-change' && e.action),
    ).toEqual(expect.arrayContaining(['department.created', 'system.created', 'key.added']));
  });

  it('answers who the caller is, with roles from the registry whatever the token claims', async () => {
    const pair = keys.get('approval-1') as GeneratedKeyPair;
    const signing = await privateSigningKey(pair.privateJwk);
    const jwt = await import('jsonwebtoken');
    const boastful = jwt.default.sign(
      { iss: APPROVAL, sub: APPROVAL, aud: 'silobridge', roles: ['admin'], scope: 'admin' },
      signing.pem,
      { algorithm: 'RS256', keyid: pair.kid, expiresIn: 300 },
    );
    const whoami = await call('GET', '/v1/whoami', boastful);
    expect(whoami.body).toEqual({
      systemId: APPROVAL,
      department: 'service-centre',
      roles: ['lookup'],
      keyId: pair.kid,
    });
    const refused = await call('POST', '/v1/departments', boastful, {
      code: 'tax',
      nameEn: 'Tax',
      nameZh: '税务局',
    });
    expectProblem(refused, 403, 'missing-role');
    expect(refused.body).toMatchObject({ reason: 'missing-role', requiredRole: 'admin' });
    expect(audit.at(-1)).toMatchObject({
      kind: 'access-refused',
      status: 403,
      reason: 'missing-role',
      requester: { department: 'service-centre', system: APPROVAL },
      method: 'POST',
      path: '/v1/departments',
    });
    expectProblem(await call('GET', '/v1/systems', boastful), 403, 'missing-role');
    expect((await call('GET', '/v1/systems', await token(OFFICER, 'officer'))).status).toBe(200);
  });

  it('refuses bad tokens with 401 problem JSON naming the cause, and audits each refusal', async () => {
    const missing = await call('GET', '/v1/whoami', undefined);
    expectProblem(missing, 401, 'token-missing');
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="silobridge"');
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const expired = await call('GET', '/v1/whoami', await token(APPROVAL, 'approval-1', -120));
    expectProblem(expired, 401, 'token-expired');
    expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');

    const unknownKey = await call('GET', '/v1/whoami', await token(APPROVAL, 'admin'));
    expectProblem(unknownKey, 401, 'token-unknown-key');

    const tooLong = await call('GET', '/v1/whoami', await token(APPROVAL, 'approval-1', 3600));
    expectProblem(tooLong, 401, 'token-lifetime-too-long');

    const refusals = audit.filter((e) => e.kind === 'access-refused' && e.status === 401).slice(-4);
    expect(refusals.map((e) => e.kind === 'access-refused' && e.reason)).toEqual([
      'token-missing',
      'token-expired',
      'token-unknown-key',
      'token-lifetime-too-long',
    ]);
    // Unverified, but what the token claimed: useful to the team whose system is misconfigured. Kept
    // apart from `requester`, so a forged name cannot make an attempt look like that system's own.
    expect(refusals[1]).toMatchObject({ claimedIssuer: APPROVAL, path: '/v1/whoami' });
    expect(refusals[1]).not.toHaveProperty('requester');
  });

  it('validates bodies and refuses keys that must never be registered', async () => {
    const admin = await token(ADMIN, 'admin');
    const bad = await call('POST', '/v1/systems', admin, {
      id: 'No Such/Id',
      name: '',
      roles: ['superuser'],
    });
    expectProblem(bad, 400, 'invalid-request');
    expect((bad.body.errors as Array<{ pointer: string }>).map((e) => e.pointer).sort()).toEqual([
      '/id',
      '/name',
      '/roles/0',
    ]);
    const unknownDepartment = await call('POST', '/v1/systems', admin, {
      id: 'tax/collection',
      name: 'x',
      roles: [],
    });
    expectProblem(unknownDepartment, 400, 'unknown-department');

    const approvalKey = keys.get('approval-1') as GeneratedKeyPair;
    const leaked = await call('POST', `/v1/systems/${APPROVAL}/keys`, admin, { jwk: approvalKey.privateJwk });
    expectProblem(leaked, 400, 'private-key-submitted');
    expect(JSON.stringify(leaked.body)).not.toContain(String(approvalKey.privateJwk.d));

    const reused = await call('POST', `/v1/systems/${OFFICER}/keys`, admin, { jwk: approvalKey.publicJwk });
    expectProblem(reused, 409, 'key-already-registered');
    const hmac = await call('POST', `/v1/systems/${APPROVAL}/keys`, admin, {
      jwk: { kty: 'oct', k: 'c2VjcmV0' },
    });
    expectProblem(hmac, 400, 'private-key-submitted');
    const p384 = await call('POST', `/v1/systems/${APPROVAL}/keys`, admin, {
      jwk: { kty: 'EC', crv: 'P-384', x: 'a', y: 'b' },
    });
    expectProblem(p384, 400, 'invalid-key');
    const duplicate = await call('POST', '/v1/departments', admin, {
      code: 'service-centre',
      nameEn: 'x',
      nameZh: 'x',
    });
    expectProblem(duplicate, 409, 'department-exists');
  });
});

describe('key rotation and retirement', () => {
  it('lets a system rotate its own keys with overlap, and locks out the retired key at once', async () => {
    const oldToken = await token(APPROVAL, 'approval-1');
    expect((await call('GET', '/v1/whoami', oldToken)).status).toBe(200);

    const next = await newKey('approval-2', 'PS256');
    const added = await call('POST', `/v1/systems/${APPROVAL}/keys`, oldToken, { jwk: next.publicJwk });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ kid: next.kid, alg: 'PS256', status: 'active', createdBy: APPROVAL });

    // Overlap: both keys work.
    const newToken = await token(APPROVAL, 'approval-2');
    expect((await call('GET', '/v1/whoami', oldToken)).body.keyId).toBe(keys.get('approval-1')?.kid);
    expect((await call('GET', '/v1/whoami', newToken)).body.keyId).toBe(next.kid);

    const retired = await call(
      'DELETE',
      `/v1/systems/${APPROVAL}/keys/${keys.get('approval-1')?.kid}`,
      newToken,
    );
    expect(retired.status).toBe(200);
    expect(retired.body).toMatchObject({ status: 'retired', retiredBy: APPROVAL });

    // The old token is in the verification cache; retirement still applies on the very next request.
    expectProblem(await call('GET', '/v1/whoami', oldToken), 401, 'token-key-retired');
    expect((await call('GET', '/v1/whoami', newToken)).status).toBe(200);
    expect(audit.filter((e) => e.kind === 'registry-change').at(-1)).toMatchObject({
      actor: APPROVAL,
      action: 'key.retired',
      target: `${APPROVAL}#${keys.get('approval-1')?.kid}`,
    });
  });

  it('keeps a system from retiring its last key itself, but lets an admin lock it out', async () => {
    const own = await token(APPROVAL, 'approval-2');
    const kid = keys.get('approval-2')?.kid;
    expectProblem(await call('DELETE', `/v1/systems/${APPROVAL}/keys/${kid}`, own), 409, 'last-active-key');
    const again = await call('DELETE', `/v1/systems/${APPROVAL}/keys/${keys.get('approval-1')?.kid}`, own);
    expectProblem(again, 409, 'key-already-retired');
    // A system manages only its own keys.
    const foreign = await call('POST', `/v1/systems/${OFFICER}/keys`, own, {
      jwk: (await newKey('x')).publicJwk,
    });
    expectProblem(foreign, 403, 'missing-role');

    const admin = await token(ADMIN, 'admin');
    expect((await call('DELETE', `/v1/systems/${APPROVAL}/keys/${kid}`, admin)).status).toBe(200);
    expectProblem(await call('GET', '/v1/whoami', own), 401, 'token-key-retired');
  });

  it('tells other gateway instances about a retirement on their next request', async () => {
    const other = await startInstance(0);
    try {
      const admin = await token(ADMIN, 'admin');
      const fresh = await newKey('approval-3');
      expect(
        (await call('POST', `/v1/systems/${APPROVAL}/keys`, admin, { jwk: fresh.publicJwk })).status,
      ).toBe(201);
      await newKey('approval-4');
      const next = keys.get('approval-4') as GeneratedKeyPair;
      expect(
        (await call('POST', `/v1/systems/${APPROVAL}/keys`, admin, { jwk: next.publicJwk })).status,
      ).toBe(201);
      const viaOther = await token(APPROVAL, 'approval-3');
      expect((await call('GET', '/v1/whoami', viaOther, undefined, other)).status).toBe(200);
      // Retired through the main instance (or the CLI, or SQL): the other instance sees the revision change.
      expect((await call('DELETE', `/v1/systems/${APPROVAL}/keys/${fresh.kid}`, admin)).status).toBe(200);
      expectProblem(await call('GET', '/v1/whoami', viaOther, undefined, other), 401, 'token-key-retired');
    } finally {
      other.server.close();
    }
  });
});

describe('changes made outside this gateway instance', () => {
  it('are picked up within the refresh interval (another instance, the CLI, plain SQL)', async () => {
    const polling = await startInstance(200);
    try {
      const officer = await token(OFFICER, 'officer');
      expect((await call('GET', '/v1/whoami', officer, undefined, polling)).body.roles).toEqual(['audit']);
      await database.query("UPDATE systems SET roles = ARRAY['audit', 'lookup'] WHERE id = $1", [OFFICER]);
      await expect
        .poll(async () => (await call('GET', '/v1/whoami', officer, undefined, polling)).body.roles)
        .toEqual(['audit', 'lookup']);
      await database.query("UPDATE systems SET roles = ARRAY['audit'] WHERE id = $1", [OFFICER]);
    } finally {
      polling.server.close();
    }
  });
});

describe('roles and systems', () => {
  it('applies role changes and disabling on the next request', async () => {
    const admin = await token(ADMIN, 'admin');
    const approval = await token(APPROVAL, 'approval-4');
    expectProblem(await call('GET', '/v1/systems', approval), 403, 'missing-role');
    const updated = await call('PATCH', `/v1/systems/${APPROVAL}`, admin, { roles: ['lookup', 'audit'] });
    expect(updated.body.roles).toEqual(['lookup', 'audit']);
    expect((await call('GET', '/v1/systems', approval)).status).toBe(200);

    expect((await call('PATCH', `/v1/systems/${APPROVAL}`, admin, { enabled: false })).status).toBe(200);
    expectProblem(await call('GET', '/v1/whoami', approval), 401, 'token-system-disabled');
    expect(
      (await call('PATCH', `/v1/systems/${APPROVAL}`, admin, { enabled: true, roles: ['lookup'] })).status,
    ).toBe(200);
    expect((await call('GET', '/v1/whoami', approval)).body.roles).toEqual(['lookup']);
    expect(audit.filter((e) => e.kind === 'registry-change').at(-1)).toMatchObject({
      action: 'system.updated',
      details: { enabled: { from: false, to: true }, roles: { from: ['lookup', 'audit'], to: ['lookup'] } },
    });
  });

  it('never leaves the gateway without an enabled admin', async () => {
    const admin = await token(ADMIN, 'admin');
    expectProblem(
      await call('PATCH', `/v1/systems/${ADMIN}`, admin, { roles: ['audit'] }),
      409,
      'last-admin',
    );
    expectProblem(await call('PATCH', `/v1/systems/${ADMIN}`, admin, { enabled: false }), 409, 'last-admin');
  });

  it('lets a system read its own registration but not another one', async () => {
    const approval = await token(APPROVAL, 'approval-4');
    const own = await call('GET', `/v1/systems/${APPROVAL}/keys`, approval);
    expect((own.body.keys as Array<{ status: string }>).map((k) => k.status)).toEqual([
      'retired',
      'retired',
      'retired',
      'active',
    ]);
    expectProblem(await call('GET', `/v1/systems/${ADMIN}`, approval), 403, 'missing-role');
    expectProblem(
      await call('GET', '/v1/systems/service-centre/nothing', await token(ADMIN, 'admin')),
      404,
      'system-not-found',
    );
    expect((await call('GET', '/v1/departments', approval)).body.departments).toHaveLength(2);
  });
});
