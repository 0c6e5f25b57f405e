/**
 * A department's signature on what its connector says: lookup replies and heartbeats (docs/protocol.md,
 * "Signing replies and heartbeats"). Compact JWS, ES256, made with the private half of a key that the
 * department's connector system registered; the header's `kid` names it as `<system id>#<key id>`.
 *
 * A reply's signature covers the lookup id, certificate type, schema version, outcome and department,
 * and each record field through a salted digest (the disclosure format of SD-JWT, RFC 9901): the
 * gateway can release some fields, mask others, and still hand the approval system a signature it can
 * check for every field it received unchanged, while masked fields stay hidden behind their salt.
 *
 * Only node:crypto: a department can ship the connector SDK without the gateway, and any language with
 * SHA-256, base64url, JSON and ECDSA P-256 can do the same (docs/protocol.md shows shell and Java).
 */
import {
  createHash,
  createPrivateKey,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { promisify } from 'node:util';
import canonicalize from 'canonicalize';
import { SYSTEM_ID_PATTERN } from './codes.js';

export const DEPARTMENT_SIGNATURE_ALGORITHM = 'ES256';
export const REPLY_SIGNATURE_TYP = 'silobridge-reply+jws';
export const HEARTBEAT_SIGNATURE_TYP = 'silobridge-heartbeat+jws';
export const CHANGE_SIGNATURE_TYP = 'silobridge-change+jws';
/** Salts carry at least 128 bits: 16 random bytes are 22 base64url characters. */
export const MIN_SALT_LENGTH = 22;

const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const signAsync = promisify(sign);
const verifyAsync = promisify(verify);

/** `<system id>#<key id>`, e.g. `market-regulation/licence-connector#k1`: the JWS header's `kid`. */
export function departmentKeyId(systemId: string, kid: string): string {
  return `${systemId}#${kid}`;
}

export interface DepartmentKeyRef {
  systemId: string;
  department: string;
  kid: string;
}

export function parseDepartmentKeyId(keyId: unknown): DepartmentKeyRef | undefined {
  if (typeof keyId !== 'string') return undefined;
  const hash = keyId.indexOf('#');
  const systemId = keyId.slice(0, hash);
  const kid = keyId.slice(hash + 1);
  if (hash < 0 || !SYSTEM_ID_PATTERN.test(systemId) || !KEY_ID_PATTERN.test(kid)) return undefined;
  return { systemId, department: systemId.slice(0, systemId.indexOf('/')), kid };
}

export interface DepartmentSigner {
  /** `<system id>#<key id>`. */
  readonly keyId: string;
  readonly department: string;
  sign(payload: object, typ: string): Promise<string>;
}

/**
 * A signer from a private EC P-256 JWK, as `silobridge keys generate` writes it. Its public half must
 * be registered for `systemId` (a system of the department with the `connector` role).
 */
export function createDepartmentSigner(options: {
  systemId: string;
  privateJwk: unknown;
  /** Default: the JWK's own `kid`. */
  kid?: string;
}): DepartmentSigner {
  const { systemId } = options;
  if (!SYSTEM_ID_PATTERN.test(systemId)) {
    throw new Error(`invalid system id ${JSON.stringify(systemId)}: expected <department>/<system>`);
  }
  const jwk = options.privateJwk as Record<string, unknown> | null;
  if (typeof jwk !== 'object' || jwk === null || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d) {
    throw new Error(
      'the signing key must be a private EC P-256 JWK (kty EC, crv P-256, with d): an ES256 key',
    );
  }
  const kid = options.kid ?? jwk.kid;
  if (typeof kid !== 'string' || !KEY_ID_PATTERN.test(kid)) {
    throw new Error('the signing key has no usable kid: pass the key id it was registered under');
  }
  const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  const keyId = departmentKeyId(systemId, kid);
  return {
    keyId,
    department: systemId.slice(0, systemId.indexOf('/')),
    async sign(payload, typ) {
      const header = { alg: DEPARTMENT_SIGNATURE_ALGORITHM, kid: keyId, typ };
      const input = `${base64urlJson(header)}.${base64urlJson(payload)}`;
      const signature = await signAsync('sha256', Buffer.from(input, 'ascii'), {
        key,
        dsaEncoding: 'ieee-p1363',
      });
      return `${input}.${signature.toString('base64url')}`;
    },
  };
}

// --- Disclosures: one per record field -------------------------------------------------------------

/** Random bytes in a disclosure's salt (128 bits, as RFC 9901 recommends). */
const SALT_BYTES = 16;

/** base64url of the UTF-8 JSON array `[salt, fieldName, value]`. */
export function makeDisclosure(
  name: string,
  value: unknown,
  salt = randomBytes(SALT_BYTES).toString('base64url'),
): string {
  return Buffer.from(JSON.stringify([salt, name, value]), 'utf8').toString('base64url');
}

/** base64url(SHA-256(the disclosure's ASCII text)): what the signed payload lists per field. */
export function disclosureDigest(disclosure: string): string {
  return createHash('sha256').update(disclosure, 'ascii').digest('base64url');
}

export interface Disclosure {
  salt: string;
  name: string;
  value: unknown;
}

/** Decodes a disclosure; throws an Error saying what is wrong with it. */
export function readDisclosure(disclosure: unknown): Disclosure {
  if (typeof disclosure !== 'string' || !/^[A-Za-z0-9_-]+$/.test(disclosure)) {
    throw new Error('a disclosure must be a base64url string');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(disclosure, 'base64url').toString('utf8'));
  } catch {
    throw new Error('a disclosure must be base64url of a JSON array');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string'
  ) {
    throw new Error('a disclosure must be the JSON array [salt, fieldName, value]');
  }
  const [salt, name, value] = parsed as [string, string, unknown];
  if (salt.length < MIN_SALT_LENGTH)
    throw new Error(`a disclosure's salt needs at least ${MIN_SALT_LENGTH} characters`);
  return { salt, name, value };
}

// --- Reply signatures -----------------------------------------------------------------------------

/** What a reply's signature says; the gateway requires each member to equal the reply's own. */
export interface ReplyClaims {
  lookupId: string;
  certificateType: string;
  schemaVersion: number;
  outcome: 'found' | 'not-found' | 'error';
  department: string;
  /** Field name -> disclosureDigest(its disclosure); with `found` only. */
  digests?: Record<string, string>;
  /** The error code; with `error` only. */
  error?: string;
  /** Seconds since the epoch, when the connector signed. */
  iat?: number;
}

export interface SignableReply {
  lookupId: string;
  certificateType: string;
  schemaVersion: number;
  outcome: 'found' | 'not-found' | 'error';
  connector: { department: string };
  record?: Record<string, unknown> | null;
  error?: { code: string } | null;
}

export interface ReplySignature {
  signature: string;
  /** Field name -> disclosure; with `found` only. */
  disclosures?: Record<string, string>;
}

/** Signs a reply: one disclosure per record field, and the JWS over the claims. */
export async function signReply(signer: DepartmentSigner, reply: SignableReply): Promise<ReplySignature> {
  const claims: ReplyClaims = {
    lookupId: reply.lookupId,
    certificateType: reply.certificateType,
    schemaVersion: reply.schemaVersion,
    outcome: reply.outcome,
    department: reply.connector.department,
    iat: Math.floor(Date.now() / 1000),
  };
  let disclosures: Record<string, string> | undefined;
  if (reply.outcome === 'found' && reply.record) {
    const fields = Object.entries(reply.record);
    const digests: Record<string, string> = {};
    disclosures = {};
    // One draw from the random generator for every field's salt: a draw costs more than its bytes.
    const salts = randomBytes(SALT_BYTES * fields.length);
    for (const [index, [name, value]] of fields.entries()) {
      const salt = salts.subarray(index * SALT_BYTES, (index + 1) * SALT_BYTES).toString('base64url');
      const disclosure = makeDisclosure(name, value, salt);
      disclosures[name] = disclosure;
      digests[name] = disclosureDigest(disclosure);
    }
    claims.digests = digests;
  }
  if (reply.outcome === 'error' && reply.error) claims.error = reply.error.code;
  const signature = await signer.sign(claims, REPLY_SIGNATURE_TYP);
  return disclosures ? { signature, disclosures } : { signature };
}

// --- Checking -------------------------------------------------------------------------------------

export interface DecodedJws {
  header: { alg?: unknown; kid?: unknown; typ?: unknown };
  payload: unknown;
  signingInput: string;
  signature: Buffer;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Splits and decodes a compact JWS without checking it; throws an Error saying what is malformed. */
export function decodeCompactJws(jws: unknown): DecodedJws {
  if (typeof jws !== 'string' || jws.length > 200_000 || !COMPACT_JWS.test(jws)) {
    throw new Error('the signature is not a compact JWS (three base64url parts separated by dots)');
  }
  const [header, payload, signature] = jws.split('.') as [string, string, string];
  const json = (part: string, what: string): unknown => {
    try {
      return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    } catch {
      throw new Error(`the signature's ${what} is not base64url JSON`);
    }
  };
  const decodedHeader = json(header, 'header');
  if (typeof decodedHeader !== 'object' || decodedHeader === null || Array.isArray(decodedHeader)) {
    throw new Error("the signature's header is not a JSON object");
  }
  return {
    header: decodedHeader as DecodedJws['header'],
    payload: json(payload, 'payload'),
    signingInput: `${header}.${payload}`,
    signature: Buffer.from(signature, 'base64url'),
  };
}

/**
 * Whether the JWS was signed (ES256) by the private half of `publicKey`. Asynchronous: the check runs
 * on the libuv thread pool, not on the event loop that serves every other lookup.
 */
export async function verifiesWith(decoded: DecodedJws, publicKey: KeyObject): Promise<boolean> {
  if (decoded.signature.length !== 64) return false;
  return verifyAsync(
    'sha256',
    Buffer.from(decoded.signingInput, 'ascii'),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    decoded.signature,
  );
}

/**
 * Decodes a department signature and checks what its header promises: ES256, the expected `typ`, a
 * `<system id>#<key id>` kid. Throws an Error saying what is wrong. The key itself is the caller's to
 * find (the gateway in its registry, a verifier in published keys) and to check with verifiesWith.
 */
export function openDepartmentSignature(
  jws: unknown,
  typ: string,
): { decoded: DecodedJws; key: DepartmentKeyRef } {
  const decoded = decodeCompactJws(jws);
  const { alg, kid, typ: actualTyp } = decoded.header;
  if (actualTyp !== typ) throw new Error(`the signature's typ is ${JSON.stringify(actualTyp)}, not ${typ}`);
  if (alg !== DEPARTMENT_SIGNATURE_ALGORITHM) {
    throw new Error(`the signature's algorithm is ${JSON.stringify(alg)}, not ES256`);
  }
  const key = parseDepartmentKeyId(kid);
  if (!key) throw new Error(`the signature's kid ${JSON.stringify(kid)} is not <system id>#<key id>`);
  return { decoded, key };
}

/**
 * Whether `disclosure` vouches for `value` as field `field` under the signed `digest`: undefined when
 * it does, else what is wrong: it cannot be read (and why), its digest is not the signed one, or it
 * discloses another field or value.
 */
export function disclosureMismatch(
  field: string,
  disclosure: unknown,
  digest: unknown,
  value: unknown,
): { problem: 'unreadable'; reason: string } | { problem: 'digest' | 'value' } | undefined {
  let opened: Disclosure;
  try {
    opened = readDisclosure(disclosure);
  } catch (error) {
    return { problem: 'unreadable', reason: (error as Error).message };
  }
  if (disclosureDigest(disclosure as string) !== digest) return { problem: 'digest' };
  if (opened.name !== field || canonicalize(opened.value) !== canonicalize(value))
    return { problem: 'value' };
  return undefined;
}

// --- Heartbeats -----------------------------------------------------------------------------------

/** A heartbeat's signature: its payload is the heartbeat itself (every member but `signature`). */
export function signHeartbeat(signer: DepartmentSigner, heartbeat: object): Promise<string> {
  return signer.sign(heartbeat, HEARTBEAT_SIGNATURE_TYP);
}

// --- Change events --------------------------------------------------------------------------------

/**
 * A change event's signature: like a heartbeat's, its payload is the event itself (every member but
 * `signature`). Gateways check it and then sign each notice they deliver themselves, releasing only
 * the fields a subscriber's policy grants (docs/protocol.md, "Change events").
 */
export function signChangeEvent(signer: DepartmentSigner, event: object): Promise<string> {
  return signer.sign(event, CHANGE_SIGNATURE_TYP);
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
