/**
 * Systems' signing keys as JWKs (RFC 7517), parsed and generated with node-jose. The gateway stores
 * only public keys; a private key lives in a file owned by the department that generated it.
 * Algorithms are pinned per key: an RSA key signs with exactly one of RS256 or PS256, a P-256 key
 * with ES256. Nothing else (no HMAC, no `none`, no other curves) is ever accepted.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import jose from 'node-jose';
import { BadRequestError } from '../foundation/errors.js';

export const SIGNING_ALGORITHMS = ['ES256', 'RS256', 'PS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const MIN_RSA_BITS = 2048;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A public signing key as the registry stores and publishes it. */
export interface PublicJwk {
  kty: 'RSA' | 'EC';
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

export interface ParsedPublicKey {
  jwk: PublicJwk;
  kid: string;
  alg: SigningAlgorithm;
  /** RFC 7638 SHA-256 thumbprint, base64url. */
  thumbprint: string;
}

export class InvalidKeyError extends BadRequestError {
  constructor(detail: string, problem = 'invalid-key') {
    super(detail, [{ pointer: '/jwk', reason: detail }], problem);
  }
}

export function isSigningAlgorithm(value: unknown): value is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly unknown[]).includes(value);
}

function algorithmsFor(kty: string, crv: unknown): readonly SigningAlgorithm[] {
  if (kty === 'RSA') return ['RS256', 'PS256'];
  if (kty === 'EC' && crv === 'P-256') return ['ES256'];
  return [];
}

function pickAlgorithm(
  kty: string,
  crv: unknown,
  declared: unknown,
  requested: string | undefined,
): SigningAlgorithm {
  const allowed = algorithmsFor(kty, crv);
  if (allowed.length === 0) {
    throw new InvalidKeyError(
      `Only RSA (${MIN_RSA_BITS} bits or more) and EC P-256 signing keys are accepted.`,
    );
  }
  if (declared !== undefined && requested !== undefined && declared !== requested) {
    throw new InvalidKeyError(`The JWK declares alg ${String(declared)} but ${requested} was asked for.`);
  }
  const alg = requested ?? declared ?? allowed[0];
  if (!isSigningAlgorithm(alg) || !allowed.includes(alg)) {
    throw new InvalidKeyError(`A ${kty} key may sign with ${allowed.join(' or ')}, not ${String(alg)}.`);
  }
  return alg;
}

/**
 * Checks a public JWK submitted for registration and normalises it (only the members verification
 * needs, plus kid, alg and use). A key carrying private material is refused: it has left its owner's
 * hands and must be replaced, not registered.
 */
export async function parsePublicJwk(input: unknown, requestedAlg?: string): Promise<ParsedPublicKey> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidKeyError('The key must be a JWK object.');
  }
  const raw = input as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((member) => member in raw)) {
    throw new InvalidKeyError(
      'The JWK contains private key material. Register only the public key; this private key has been exposed: generate a new key pair.',
      'private-key-submitted',
    );
  }
  if (raw.use !== undefined && raw.use !== 'sig')
    throw new InvalidKeyError('The key\'s "use" must be "sig".');
  if (raw.key_ops !== undefined && !(Array.isArray(raw.key_ops) && raw.key_ops.includes('verify'))) {
    throw new InvalidKeyError('The key\'s "key_ops" must include "verify".');
  }
  const kty = String(raw.kty);
  const alg = pickAlgorithm(kty, raw.crv, raw.alg, requestedAlg);
  let key: jose.JWK.Key;
  try {
    const members = kty === 'RSA' ? { kty, n: raw.n, e: raw.e } : { kty, crv: raw.crv, x: raw.x, y: raw.y };
    key = await jose.JWK.asKey(members);
  } catch {
    throw new InvalidKeyError(
      `The ${kty} JWK could not be parsed: check its members and their base64url encoding.`,
    );
  }
  if (kty === 'RSA' && key.length < MIN_RSA_BITS) {
    throw new InvalidKeyError(
      `RSA keys must have at least ${MIN_RSA_BITS} bits; this one has ${key.length}.`,
    );
  }
  const thumbprint = await thumbprintOf(key);
  const kid = raw.kid === undefined ? thumbprint : String(raw.kid);
  if (!KEY_ID_PATTERN.test(kid)) {
    throw new InvalidKeyError(
      'The key id (kid) must be 1 to 128 characters: letters, digits, ".", "_" or "-".',
    );
  }
  const publicMembers = key.toJSON(false) as Record<string, string>;
  try {
    // node-jose does not check that an EC point lies on the curve; OpenSSL does.
    createPublicKey(key.toPEM(false));
  } catch {
    throw new InvalidKeyError(`The ${kty} JWK is not a valid public key.`);
  }
  const jwk: PublicJwk =
    kty === 'RSA'
      ? { kty: 'RSA', kid, alg, use: 'sig', n: publicMembers.n, e: publicMembers.e }
      : { kty: 'EC', kid, alg, use: 'sig', crv: publicMembers.crv, x: publicMembers.x, y: publicMembers.y };
  return { jwk, kid, alg, thumbprint };
}

async function thumbprintOf(key: jose.JWK.Key): Promise<string> {
  const digest = (await key.thumbprint('SHA-256')) as unknown as Buffer;
  return jose.util.base64url.encode(digest);
}

/** The verification key for a stored public JWK (node-jose parses it; node:crypto verifies with it). */
export async function publicKeyObject(jwk: PublicJwk): Promise<KeyObject> {
  const key = await jose.JWK.asKey(jwk);
  return createPublicKey(key.toPEM(false));
}

export interface GeneratedKeyPair {
  kid: string;
  alg: SigningAlgorithm;
  /** Keep secret: written to a 0600 file, never sent to the gateway. */
  privateJwk: Record<string, unknown>;
  publicJwk: PublicJwk;
}

/** A new key pair; the kid defaults to the RFC 7638 thumbprint, which is stable and collision-free. */
export async function generateKeyPair(
  alg: SigningAlgorithm = 'ES256',
  kid?: string,
): Promise<GeneratedKeyPair> {
  const key =
    alg === 'ES256'
      ? await jose.JWK.createKey('EC', 'P-256', { alg, use: 'sig' })
      : await jose.JWK.createKey('RSA', 3072, { alg, use: 'sig' });
  const keyId = kid ?? (await thumbprintOf(key));
  if (!KEY_ID_PATTERN.test(keyId)) throw new InvalidKeyError(`Key id '${keyId}' is not valid.`);
  const privateJwk = { ...(key.toJSON(true) as Record<string, unknown>), kid: keyId, alg, use: 'sig' };
  const parsed = await parsePublicJwk({ ...(key.toJSON(false) as object), kid: keyId, alg, use: 'sig' });
  return { kid: keyId, alg, privateJwk, publicJwk: parsed.jwk };
}

export interface PrivateSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  /** PEM (SEC1 or PKCS#1), for jsonwebtoken. */
  pem: string;
}

/** Reads a private JWK (as written by `silobridge keys generate`) for signing tokens. */
export async function privateSigningKey(privateJwk: unknown, overrides: { kid?: string; alg?: string } = {}) {
  if (typeof privateJwk !== 'object' || privateJwk === null || !('d' in privateJwk)) {
    throw new InvalidKeyError('The file does not hold a private JWK (no "d" member).');
  }
  const raw = privateJwk as Record<string, unknown>;
  const alg = pickAlgorithm(String(raw.kty), raw.crv, overrides.alg ?? raw.alg, undefined);
  const key = await jose.JWK.asKey(raw);
  const kid = overrides.kid ?? (typeof raw.kid === 'string' ? raw.kid : await thumbprintOf(key));
  return { kid, alg, pem: key.toPEM(true) } satisfies PrivateSigningKey;
}

/** The public half of a private JWK, checked as for registration. */
export async function publicHalf(privateJwk: unknown, alg?: string): Promise<ParsedPublicKey> {
  if (typeof privateJwk !== 'object' || privateJwk === null)
    throw new InvalidKeyError('The key must be a JWK object.');
  const raw = privateJwk as Record<string, unknown>;
  const key = await jose.JWK.asKey(raw);
  const members = key.toJSON(false) as Record<string, unknown>;
  return parsePublicJwk(
    {
      ...members,
      ...(raw.kid !== undefined ? { kid: raw.kid } : {}),
      ...(raw.alg !== undefined ? { alg: raw.alg } : {}),
    },
    alg,
  );
}
