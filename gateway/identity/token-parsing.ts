/**
 * The unverified shape of a bearer token, checked before any key is looked up: a compact JWS of
 * bounded size, JSON header and payload, an asymmetric algorithm we accept (never `none` or HMAC),
 * no header that would let the token choose its own key (`jwk`, `jku`, `x5u`, `x5c`) and no `crit`
 * extension, a `kid`, and an `iss`. Nothing here is trusted yet: it only says which key to try.
 */
import { isSigningAlgorithm, SIGNING_ALGORITHMS, type SigningAlgorithm } from './system-keys.js';
import { type ClaimedIdentity, TokenRejectedError } from './token-errors.js';

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 8192;
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'crit'];

export type Json = Record<string, unknown>;

export interface ParsedToken {
  header: Json & { alg: SigningAlgorithm; kid: string };
  payload: Json & { iss: string };
  /** What the token claims, for the audit log of a refusal. */
  claimed: ClaimedIdentity;
}

function decodeSegment(segment: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** A short, printable rendering of something the caller sent, for a problem detail. */
export function shown(value: unknown): string {
  return JSON.stringify(String(value).slice(0, 64));
}

export function parseToken(token: string): ParsedToken {
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
    throw new TokenRejectedError(
      'token-malformed',
      'The bearer token is not a compact JWS (header.payload.signature).',
    );
  }
  const [headerPart, payloadPart, signature] = token.split('.') as [string, string, string];
  const header = decodeSegment(headerPart);
  const payload = decodeSegment(payloadPart);
  if (!header || !payload) {
    throw new TokenRejectedError(
      'token-malformed',
      'The token header and payload must be base64url JSON objects.',
    );
  }
  const claimed: ClaimedIdentity = {
    ...(typeof payload.iss === 'string' ? { issuer: payload.iss.slice(0, 200) } : {}),
    ...(typeof header.kid === 'string' ? { keyId: header.kid.slice(0, 200) } : {}),
  };
  if (!isSigningAlgorithm(header.alg) || signature === '') {
    throw new TokenRejectedError(
      'token-algorithm-not-allowed',
      `Algorithm ${shown(header.alg)} is not accepted: sign with the system's registered key (${SIGNING_ALGORITHMS.join(', ')}).`,
      claimed,
    );
  }
  const forbidden = FORBIDDEN_HEADERS.filter((name) => name in header);
  if (forbidden.length > 0) {
    throw new TokenRejectedError(
      'token-header-not-allowed',
      `Header parameter(s) ${forbidden.join(', ')} are not accepted: the key is always the one registered for the issuing system.`,
      claimed,
      { headers: forbidden },
    );
  }
  if (typeof header.kid !== 'string') {
    throw new TokenRejectedError(
      'token-missing-key-id',
      "The token header has no 'kid' naming the registered key.",
      claimed,
    );
  }
  if (typeof payload.iss !== 'string') {
    throw new TokenRejectedError(
      'token-missing-claim',
      "The token has no 'iss' claim (the system id).",
      claimed,
      {
        claim: 'iss',
      },
    );
  }
  return { header: header as ParsedToken['header'], payload: payload as ParsedToken['payload'], claimed };
}
