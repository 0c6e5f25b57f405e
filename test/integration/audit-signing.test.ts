import { createHash, createPublicKey, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import canonicalize from 'canonicalize';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_TYP } from '../../gateway/audit/audit-checkpoints.js';
import { createJwksRouter } from '../../gateway/signing/jwks-routes.js';
import type { JsonWebKeySet } from '../../gateway/signing/jws.js';
import { createResponseSigner, verifyLookupResponse } from '../../gateway/signing/response-signer.js';
import { openSigningKeyRing, type SigningKeyRing } from '../../gateway/signing/signing-keys.js';
import type { Database } from '../../gateway/storage/database.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const SECRET = 'audit-signing-test-secret-0123456789abcdef';
const RECORD = { name: '张三', residentIdNumber: '110105********002X', validUntil: '2036-01-01' };

/** What an approval system does with nothing but the JWKS and a JOSE-agnostic crypto library. */
function verifyIndependently(jws: string, jwks: JsonWebKeySet): Record<string, unknown> | undefined {
  const [header, payload, signature] = jws.split('.') as [string, string, string];
  const { kid, alg } = JSON.parse(Buffer.from(header, 'base64url').toString()) as {
    kid: string;
    alg: string;
  };
  const jwk = jwks.keys.find((key) => key.kid === kid);
  if (!jwk || alg !== 'ES256') return undefined;
  const ok = verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    { key: createPublicKey({ key: jwk as never, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  return ok
    ? (JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>)
    : undefined;
}

describe('the gateway signing keys and signed lookup responses', () => {
  let testDb: TestDatabase;
  let database: Database;
  let keys: SigningKeyRing;
  let server: Server;
  let jwksUrl: string;

  const publishedJwks = async () => (await (await fetch(jwksUrl)).json()) as JsonWebKeySet;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    database = createPostgresDatabase({ connectionString: testDb.url });
    // Two instances starting together on an empty database make one key between them.
    const otherInstance = createPostgresDatabase({ connectionString: testDb.url });
    const [a, b] = await Promise.all([
      openSigningKeyRing({ database, secret: SECRET }),
      openSigningKeyRing({ database: otherInstance, secret: SECRET }),
    ]);
    expect(a.activeKid).toBe(b.activeKid);
    b.close();
    await otherInstance.close();
    keys = a;
    const app = express().use(createJwksRouter(keys));
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    keys?.close();
    await database?.close();
    await testDb?.drop();
  });

  it('keeps the private key sealed in the database: a dump alone cannot sign', async () => {
    const { rows } = await database.query<{
      public_jwk: Record<string, unknown>;
      sealed_private_jwk: string;
    }>('SELECT public_jwk, sealed_private_jwk FROM signing_keys');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.public_jwk).not.toHaveProperty('d');
    expect(rows[0]?.sealed_private_jwk).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(rows[0]?.sealed_private_jwk).not.toContain('"d"');
    await expect(
      openSigningKeyRing({ database, secret: 'a-different-secret-a-different-secret' }),
    ).rejects.toThrow(/cannot be opened with SILOBRIDGE_SIGNING_KEY_SECRET/);
  });

  it('signs a lookup response that an approval system can verify with the published JWKS', async () => {
    const recordDigest = createHash('sha256')
      .update(canonicalize(RECORD) ?? '')
      .digest('hex');
    const claims = {
      lookupId: '0b6f0f5e-6c3f-4f57-9a36-4d0d2b0d7b61',
      recordDigest,
      requester: { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' },
      retrievedAt: '2026-05-01T08:00:00.000Z',
      certificateType: 'resident-id-card',
    };
    const jws = await createResponseSigner(keys).signLookupResponse(claims);
    const jwks = await publishedJwks();

    const payload = verifyIndependently(jws, jwks);
    expect(payload).toMatchObject({ ...claims, iss: 'silobridge', iat: expect.any(Number) });
    // The approval system recomputes the digest of the record it received and compares.
    expect(payload?.recordDigest).toBe(
      createHash('sha256')
        .update(canonicalize({ ...RECORD }) ?? '')
        .digest('hex'),
    );
    await expect(verifyLookupResponse(jws, jwks)).resolves.toMatchObject(claims);

    const [header, body, signature] = jws.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...payload, requester: { department: 'someone-else' } }),
    ).toString('base64url');
    // The forgery really changes what was signed: only the signature can tell them apart.
    expect(forged).not.toBe(body);
    expect(verifyIndependently(`${header}.${forged}.${signature}`, jwks)).toBeUndefined();
    await expect(verifyLookupResponse(`${header}.${forged}.${signature}`, jwks)).rejects.toThrow(
      /does not verify/,
    );
  });

  it('does not accept a checkpoint signature as a lookup response signature', async () => {
    const checkpoint = await keys.sign(
      { log: 'silobridge-audit', sequence: 1, hash: '0'.repeat(64), at: 'x' },
      CHECKPOINT_TYP,
    );
    await expect(verifyLookupResponse(checkpoint, await publishedJwks())).rejects.toThrow(
      /not a 'silobridge-lookup-response\+jws' one/,
    );
  });

  it('keeps old keys published after a rotation, so earlier signatures still verify', async () => {
    const signer = createResponseSigner(keys);
    const claims = {
      lookupId: 'l-1',
      recordDigest: 'ab'.repeat(32),
      requester: { department: 'x' },
      retrievedAt: '2026-05-01T00:00:00Z',
      certificateType: 't',
    };
    const before = await signer.signLookupResponse(claims);
    const oldKid = keys.activeKid;
    const newKid = await keys.rotate();
    expect(newKid).not.toBe(oldKid);
    expect(keys.activeKid).toBe(newKid);
    const after = await signer.signLookupResponse(claims);

    const jwks = await publishedJwks();
    expect(jwks.keys.map((key) => key.kid)).toEqual([newKid, oldKid]);
    expect(verifyIndependently(before, jwks)).toMatchObject(claims);
    expect(verifyIndependently(after, jwks)).toMatchObject(claims);
    expect(JSON.parse(Buffer.from(after.split('.')[0] ?? '', 'base64url').toString())).toMatchObject({
      kid: newKid,
      typ: 'silobridge-lookup-response+jws',
    });

    const { rows } = await database.query<{ kid: string; sealed_private_jwk: string; retired: boolean }>(
      'SELECT kid, sealed_private_jwk, retired_at IS NOT NULL AS retired FROM signing_keys ORDER BY created_at',
    );
    expect(rows).toEqual([
      { kid: oldKid, sealed_private_jwk: 'destroyed', retired: true },
      { kid: newKid, sealed_private_jwk: expect.stringMatching(/^v1\./), retired: false },
    ]);
    // Another instance started now signs with the new key.
    const other = await openSigningKeyRing({ database, secret: SECRET });
    expect(other.activeKid).toBe(newKid);
    other.close();
  });
});
