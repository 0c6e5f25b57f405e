import { createHmac, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Role } from '../../gateway/access/caller.js';
import type { AuditEvent } from '../../gateway/audit/audit-events.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { createAuthenticator } from '../../gateway/identity/authenticator.js';
import type { CredentialSource, SystemCredentials } from '../../gateway/identity/credentials.js';
import {
  type GeneratedKeyPair,
  generateKeyPair,
  type PrivateSigningKey,
  privateSigningKey,
  publicKeyObject,
  type SigningAlgorithm,
} from '../../gateway/identity/system-keys.js';
import { TokenRejectedError } from '../../gateway/identity/token-errors.js';
import { signToken } from '../../gateway/identity/token-signer.js';
import { createTokenVerifier } from '../../gateway/identity/token-verifier.js';

const AUDIENCE = 'silobridge';
const SYSTEM = 'service-centre/approval';
const T0 = Date.parse('2026-11-27T08:00:00Z');

interface TestKey {
  pair: GeneratedKeyPair;
  signing: PrivateSigningKey;
  publicKey: KeyObject;
}

async function testKey(alg: SigningAlgorithm, kid?: string): Promise<TestKey> {
  const pair = await generateKeyPair(alg, kid);
  return {
    pair,
    signing: await privateSigningKey(pair.privateJwk),
    publicKey: await publicKeyObject(pair.publicJwk),
  };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let es: TestKey;
let rsa: TestKey;
let ps: TestKey;
let stranger: TestKey;

beforeAll(async () => {
  [es, rsa, ps, stranger] = await Promise.all([
    testKey('ES256', 'es-1'),
    testKey('RS256', 'rs-1'),
    testKey('PS256', 'ps-1'),
    testKey('ES256', 'es-1'),
  ]);
});

function registry(roles: Role[] = ['lookup']) {
  const systems = new Map<string, SystemCredentials>();
  const keys = new Map(
    [es, rsa, ps].map((key) => [
      key.pair.kid,
      { kid: key.pair.kid, alg: key.pair.alg, publicKey: key.publicKey, retired: false },
    ]),
  );
  systems.set(SYSTEM, { systemId: SYSTEM, department: 'service-centre', roles, enabled: true, keys });
  const source: CredentialSource & { calls: number } = {
    calls: 0,
    async credentialsOf(id) {
      source.calls += 1;
      return systems.get(id);
    },
  };
  return { systems, source, system: systems.get(SYSTEM) as SystemCredentials & { roles: Role[] } };
}

function setup(options: { roles?: Role[]; cacheSize?: number } = {}) {
  const reg = registry(options.roles);
  let now = T0;
  const verifier = createTokenVerifier({
    credentials: reg.source,
    audience: AUDIENCE,
    maxTokenLifetimeSeconds: 900,
    clockToleranceSeconds: 30,
    now: () => now,
    ...(options.cacheSize !== undefined ? { cacheSize: options.cacheSize } : {}),
  });
  return {
    ...reg,
    verifier,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** A token with full control over header and claims, signed by `key` (RS/PS/ES via jsonwebtoken). */
function craft(
  key: TestKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  alg: SigningAlgorithm = key.pair.alg,
): string {
  const iat = Math.floor(T0 / 1000);
  const payload = { iss: SYSTEM, sub: SYSTEM, aud: AUDIENCE, iat, exp: iat + 300, ...claims };
  for (const [name, value] of Object.entries(payload))
    if (value === undefined) delete payload[name as keyof typeof payload];
  return jwt.sign(payload, key.signing.pem, {
    algorithm: alg,
    keyid: key.pair.kid,
    // jsonwebtoken adds iat unless told not to; a test of a missing iat must keep it missing.
    noTimestamp: 'iat' in claims && claims.iat === undefined,
    header: { alg, kid: key.pair.kid, ...header } as jwt.JwtHeader,
  });
}

async function rejection(promise: Promise<unknown>): Promise<TokenRejectedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenRejectedError);
  const rejected = error as TokenRejectedError;
  expect(rejected.status).toBe(401);
  expect(rejected.type).toBe(`https://silobridge.dev/problems/${rejected.tokenProblem}`);
  expect(rejected.headers['WWW-Authenticate']).toMatch(/^Bearer realm="silobridge"/);
  return rejected;
}

const problemOf = async (promise: Promise<unknown>) => (await rejection(promise)).tokenProblem;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('token verification: accepted tokens', () => {
  it.each(['ES256', 'RS256', 'PS256'] as const)(
    'accepts a %s token signed with the registered key',
    async (alg) => {
      const { verifier } = setup();
      const key = { ES256: es, RS256: rsa, PS256: ps }[alg];
      await expect(verifier.verify(craft(key))).resolves.toEqual({
        systemId: SYSTEM,
        department: 'service-centre',
        roles: ['lookup'],
        keyId: key.pair.kid,
      });
    },
  );

  it('takes roles from the registry, never from claims the system signed itself', async () => {
    const { verifier } = setup({ roles: ['lookup'] });
    const token = craft(es, {
      roles: ['admin'],
      scope: 'admin audit',
      role: 'admin',
      department: 'data-office',
    });
    const caller = await verifier.verify(token);
    expect(caller.roles).toEqual(['lookup']);
    expect(caller.department).toBe('service-centre');
  });

  it('accepts the token that silobridge token signs', async () => {
    const { verifier } = setup();
    const token = signToken({
      systemId: SYSTEM,
      key: es.signing,
      audience: AUDIENCE,
      lifetimeSeconds: 300,
      now: T0,
    });
    await expect(verifier.verify(token)).resolves.toMatchObject({ systemId: SYSTEM });
  });

  it('allows clock skew up to the tolerance on exp', async () => {
    const { verifier, advance } = setup({ cacheSize: 0 });
    const token = craft(es);
    advance(300_000 + 29_000);
    await expect(verifier.verify(token)).resolves.toMatchObject({ systemId: SYSTEM });
    advance(2_000);
    expect(await problemOf(verifier.verify(token))).toBe('token-expired');
  });
});

describe('token verification: every rejection names its cause', () => {
  it('refuses something that is not a compact JWS', async () => {
    const { verifier } = setup();
    for (const token of [
      'abc',
      'a.b',
      'a.b.c.d',
      `${b64({ alg: 'ES256' })}.bm90IGpzb24.sig`,
      'x'.repeat(9000),
    ]) {
      expect(await problemOf(verifier.verify(token))).toBe('token-malformed');
    }
  });

  it('refuses alg none, signed or not', async () => {
    const { verifier } = setup();
    const payload = b64({ iss: SYSTEM, sub: SYSTEM, aud: AUDIENCE, iat: T0 / 1000, exp: T0 / 1000 + 60 });
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64({ alg, kid: es.pair.kid })}.${payload}.`;
      expect(await problemOf(verifier.verify(token))).toBe('token-algorithm-not-allowed');
    }
  });

  it('refuses HS256 signed with the public key as the HMAC secret (algorithm confusion)', async () => {
    const { verifier } = setup();
    for (const key of [rsa, es]) {
      const secret = key.publicKey.export({ type: 'spki', format: 'pem' });
      const header = b64({ alg: 'HS256', typ: 'JWT', kid: key.pair.kid });
      const payload = b64({ iss: SYSTEM, sub: SYSTEM, aud: AUDIENCE, iat: T0 / 1000, exp: T0 / 1000 + 60 });
      const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      expect(await problemOf(verifier.verify(`${header}.${payload}.${signature}`))).toBe(
        'token-algorithm-not-allowed',
      );
    }
  });

  it('refuses an algorithm other than the one pinned on the key', async () => {
    const { verifier } = setup();
    // The PS256 key signs with RS256: same key material, but not the pinned algorithm.
    const rejected = await rejection(verifier.verify(craft(ps, {}, {}, 'RS256')));
    expect(rejected.tokenProblem).toBe('token-algorithm-not-allowed');
    expect(rejected.message).toBe("Key 'ps-1' is registered for PS256; the token is signed with RS256.");
    // An RSA signature presented under the EC key's kid.
    const confused = craft(rsa, {}, { kid: es.pair.kid });
    expect(await problemOf(verifier.verify(confused))).toBe('token-algorithm-not-allowed');
  });

  it.each([
    ['jwk', { jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } }],
    ['jku', { jku: 'https://attacker.example/jwks.json' }],
    ['x5u', { x5u: 'https://attacker.example/cert.pem' }],
    ['x5c', { x5c: ['MIIB'] }],
    ['crit', { crit: ['exp'] }],
  ])('refuses a token carrying a %s header', async (name, header) => {
    const { verifier } = setup();
    const rejected = await rejection(verifier.verify(craft(es, {}, header)));
    expect(rejected.tokenProblem).toBe('token-header-not-allowed');
    expect(rejected.extensions.headers).toEqual([name]);
  });

  it('refuses a token without kid, with an unknown kid, or from an unknown system', async () => {
    const { verifier } = setup();
    const noKid = jwt.sign(
      { iss: SYSTEM, sub: SYSTEM, aud: AUDIENCE, iat: T0 / 1000, exp: T0 / 1000 + 60 },
      es.signing.pem,
      { algorithm: 'ES256' },
    );
    expect(await problemOf(verifier.verify(noKid))).toBe('token-missing-key-id');
    const unknownKid = await rejection(verifier.verify(craft(es, {}, { kid: 'no-such-key' })));
    expect(unknownKid.tokenProblem).toBe('token-unknown-key');
    expect(unknownKid.message).toBe(
      `System '${SYSTEM}' has no registered key with kid "no-such-key": register its public key first.`,
    );
    const otherSystem = 'civil-affairs/marriage-registry';
    expect(await problemOf(verifier.verify(craft(es, { iss: otherSystem, sub: otherSystem })))).toBe(
      'token-unknown-issuer',
    );
    expect(await problemOf(verifier.verify(craft(es, { iss: 'not a system id' })))).toBe(
      'token-unknown-issuer',
    );
  });

  it('refuses a signature made with another key presented under a registered kid', async () => {
    const { verifier } = setup();
    expect(await problemOf(verifier.verify(craft(stranger)))).toBe('token-bad-signature');
    const tampered = craft(es).split('.');
    tampered[1] = b64({ iss: SYSTEM, sub: SYSTEM, aud: AUDIENCE, iat: T0 / 1000, exp: T0 / 1000 + 600 });
    expect(await problemOf(verifier.verify(tampered.join('.')))).toBe('token-bad-signature');
  });

  it('refuses expired, not-yet-valid, future-issued and too-long-lived tokens', async () => {
    const { verifier } = setup();
    const now = Math.floor(T0 / 1000);
    const expired = await rejection(verifier.verify(craft(es, { iat: now - 600, exp: now - 31 })));
    expect(expired.tokenProblem).toBe('token-expired');
    expect(expired.message).toMatch(/^The token expired at 2026-11-27T07:59:29.000Z/);
    expect(await problemOf(verifier.verify(craft(es, { nbf: now + 120 })))).toBe('token-not-yet-valid');
    expect(await problemOf(verifier.verify(craft(es, { iat: now + 120, exp: now + 400 })))).toBe(
      'token-not-yet-valid',
    );
    const tooLong = await rejection(verifier.verify(craft(es, { iat: now, exp: now + 901 })));
    expect(tooLong.tokenProblem).toBe('token-lifetime-too-long');
    expect(tooLong.extensions.maxTokenLifetimeSeconds).toBe(900);
    await expect(verifier.verify(craft(es, { iat: now, exp: now + 900 }))).resolves.toBeDefined();
  });

  it.each(['exp', 'iat', 'sub', 'aud', 'iss'])('refuses a token without %s', async (claim) => {
    const { verifier } = setup();
    const rejected = await rejection(verifier.verify(craft(es, { [claim]: undefined })));
    expect(rejected.tokenProblem).toBe('token-missing-claim');
    expect(rejected.extensions.claim).toBe(claim);
  });

  it('refuses a wrong audience and a subject other than the issuer', async () => {
    const { verifier } = setup();
    const wrongAudience = await rejection(verifier.verify(craft(es, { aud: 'another-gateway' })));
    expect(wrongAudience.tokenProblem).toBe('token-wrong-audience');
    expect(wrongAudience.message).toBe("The token's audience must be 'silobridge'.");
    expect(await problemOf(verifier.verify(craft(es, { sub: 'data-office/gateway-admin' })))).toBe(
      'token-subject-mismatch',
    );
  });

  it('never puts key material or the token in a problem', async () => {
    const { verifier } = setup();
    const token = craft(stranger);
    const rejected = await rejection(verifier.verify(token));
    const text = JSON.stringify({ detail: rejected.message, ...rejected.extensions, ...rejected.headers });
    expect(text).not.toContain(token.split('.')[2]);
    expect(text).not.toContain(String(es.pair.publicJwk.x));
  });

  it('refuses a clock tolerance over 60 seconds at construction', () => {
    const { source } = registry();
    expect(() =>
      createTokenVerifier({
        credentials: source,
        audience: AUDIENCE,
        maxTokenLifetimeSeconds: 900,
        clockToleranceSeconds: 61,
      }),
    ).toThrow(RangeError);
  });
});

describe('token verification: cache, retirement, rotation', () => {
  it('verifies a token once and serves repeats from the cache, still asking the registry each time', async () => {
    const { verifier, source } = setup();
    const verify = vi.spyOn(jwt, 'verify');
    const token = craft(es);
    await verifier.verify(token);
    await verifier.verify(token);
    await verifier.verify(token);
    expect(verify).toHaveBeenCalledTimes(1);
    expect(source.calls).toBe(3);
    expect(verifier.cachedTokens).toBe(1);
  });

  it('refuses a cached token once its key is retired, and once its system is disabled', async () => {
    const { verifier, system } = setup();
    const token = craft(es);
    await verifier.verify(token);
    (system.keys.get(es.pair.kid) as { retired: boolean }).retired = true;
    expect(await problemOf(verifier.verify(token))).toBe('token-key-retired');
    expect(await problemOf(verifier.verify(token))).toBe('token-key-retired');

    const other = craft(rsa);
    await verifier.verify(other);
    system.enabled = false;
    expect(await problemOf(verifier.verify(other))).toBe('token-system-disabled');
  });

  it('applies role changes to cached tokens on the next request', async () => {
    const { verifier, system } = setup();
    const token = craft(es);
    expect((await verifier.verify(token)).roles).toEqual(['lookup']);
    system.roles = ['lookup', 'audit'];
    expect((await verifier.verify(token)).roles).toEqual(['lookup', 'audit']);
  });

  it('stops serving a cached token when it expires', async () => {
    const { verifier, advance } = setup();
    const token = craft(es);
    await verifier.verify(token);
    advance(331_000);
    expect(await problemOf(verifier.verify(token))).toBe('token-expired');
    expect(verifier.cachedTokens).toBe(0);
  });

  it('accepts tokens of both keys during a rotation, then only the new one', async () => {
    const { verifier, system } = setup();
    system.keys = new Map([
      ['es-old', { kid: 'es-old', alg: 'ES256', publicKey: es.publicKey, retired: false }],
      ['es-new', { kid: 'es-new', alg: 'ES256', publicKey: stranger.publicKey, retired: false }],
    ]);
    const oldToken = craft(es, {}, { kid: 'es-old' });
    const newToken = craft(stranger, {}, { kid: 'es-new' });
    await expect(verifier.verify(oldToken)).resolves.toMatchObject({ keyId: 'es-old' });
    await expect(verifier.verify(newToken)).resolves.toMatchObject({ keyId: 'es-new' });
    (system.keys.get('es-old') as { retired: boolean }).retired = true;
    expect(await problemOf(verifier.verify(oldToken))).toBe('token-key-retired');
    await expect(verifier.verify(newToken)).resolves.toMatchObject({ keyId: 'es-new' });
  });

  it('keeps the cache bounded', async () => {
    const { verifier } = setup({ cacheSize: 3 });
    for (let i = 0; i < 6; i += 1) await verifier.verify(craft(es, { jti: `t-${i}` }));
    expect(verifier.cachedTokens).toBe(3);
  });
});

describe('the authenticator middleware', () => {
  function app(audit: AuditEvent[]) {
    const { source } = registry();
    return createAuthenticator({
      registry: source,
      audience: AUDIENCE,
      audit: { record: async (event) => void audit.push(event) },
      logger: createLogger('silent'),
      now: () => T0,
    });
  }

  it('refuses a request without a bearer token, naming the scheme (RFC 6750)', async () => {
    const authenticator = app([]);
    const missing = await rejection(authenticator.authenticate(undefined));
    expect(missing.tokenProblem).toBe('token-missing');
    expect(missing.headers['WWW-Authenticate']).toBe('Bearer realm="silobridge"');
    expect(await problemOf(authenticator.authenticate('Basic dXNlcjpwYXNz'))).toBe('token-missing');
    const invalid = await rejection(authenticator.authenticate(`Bearer ${craft(es, { aud: 'x' })}`));
    expect(invalid.headers['WWW-Authenticate']).toBe(
      'Bearer realm="silobridge", error="invalid_token", error_description="wrong audience"',
    );
  });

  it('accepts the scheme name in any case', async () => {
    const authenticator = app([]);
    await expect(authenticator.authenticate(`bearer ${craft(es)}`)).resolves.toMatchObject({
      systemId: SYSTEM,
    });
  });
});
