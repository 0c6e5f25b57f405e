import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  InvalidKeyError,
  parsePublicJwk,
  publicHalf,
} from '../../gateway/identity/system-keys.js';

async function problem(promise: Promise<unknown>): Promise<string> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidKeyError);
  return (error as InvalidKeyError).problem;
}

describe('public keys submitted for registration', () => {
  it('keeps only what verification needs, pins the algorithm and names the key by its thumbprint', async () => {
    const { publicJwk } = await generateKeyPair('ES256');
    const { kid: _kid, alg: _alg, ...bare } = publicJwk;
    const parsed = await parsePublicJwk({ ...bare, x5c: ['MIIB'], ext: true });
    expect(Object.keys(parsed.jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(parsed).toMatchObject({ alg: 'ES256', kid: parsed.thumbprint });
    expect(parsed.thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('pins RSA keys to RS256 unless PS256 is declared or asked for, and never both', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    expect((await parsePublicJwk(rsa)).alg).toBe('RS256');
    expect((await parsePublicJwk(rsa, 'PS256')).alg).toBe('PS256');
    expect((await parsePublicJwk({ ...rsa, alg: 'PS256' })).alg).toBe('PS256');
    expect(await problem(parsePublicJwk({ ...rsa, alg: 'RS256' }, 'PS256'))).toBe('invalid-key');
    expect(await problem(parsePublicJwk(rsa, 'ES256'))).toBe('invalid-key');
    expect(await problem(parsePublicJwk({ ...rsa, alg: 'HS256' }))).toBe('invalid-key');
  });

  it('refuses short RSA keys, other curves, symmetric and private keys, and odd uses', async () => {
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    expect(await problem(parsePublicJwk(short))).toBe('invalid-key');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    expect(await problem(parsePublicJwk(p384))).toBe('invalid-key');
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    expect(await problem(parsePublicJwk(ed))).toBe('invalid-key');
    const pair = await generateKeyPair('ES256');
    expect(await problem(parsePublicJwk(pair.privateJwk))).toBe('private-key-submitted');
    expect(await problem(parsePublicJwk({ ...pair.publicJwk, use: 'enc' }))).toBe('invalid-key');
    expect(await problem(parsePublicJwk({ ...pair.publicJwk, key_ops: ['encrypt'] }))).toBe('invalid-key');
    expect(await problem(parsePublicJwk({ ...pair.publicJwk, kid: 'has spaces' }))).toBe('invalid-key');
    expect(await problem(parsePublicJwk({ ...pair.publicJwk, x: 'not-a-point' }))).toBe('invalid-key');
    expect(await problem(parsePublicJwk('{"kty":"EC"}'))).toBe('invalid-key');
  });

  it('derives the public half of a private key file', async () => {
    const pair = await generateKeyPair('PS256', 'team-key-2026');
    const derived = await publicHalf(pair.privateJwk);
    expect(derived.jwk).toEqual(pair.publicJwk);
    expect(derived.kid).toBe('team-key-2026');
  });
});
