/**
 * Verifies a system's bearer token (a compact JWS, RFC 7515/7519) against the key registered for the
 * issuing system. The key is chosen only from the registry, by `iss` and `kid` (never from the token,
 * see `token-parsing.ts`); the algorithm is the one pinned on that key. Claims: `iss` = `sub` = the system id, `aud` = the gateway, `exp` and `iat` required, lifetime
 * (`exp - iat`) bounded, clock tolerance applied to `exp`, `nbf` and `iat`.
 *
 * A verified token is cached until it expires, so a system reusing its token costs a map lookup, not
 * a signature check. The registry is consulted on every request, cached or not: roles come from it,
 * and a retired key or a disabled system is refused on the next request.
 */
import jwt from 'jsonwebtoken';
import type { Caller } from '../access/caller.js';
import { SYSTEM_ID_PATTERN } from '../protocol/codes.js';
import type { CredentialSource, RegisteredKey, SystemCredentials } from './credentials.js';
import { type ClaimedIdentity, TokenRejectedError } from './token-errors.js';
import { type Json, parseToken, shown } from './token-parsing.js';

export interface TokenVerifierOptions {
  credentials: CredentialSource;
  audience: string;
  maxTokenLifetimeSeconds: number;
  clockToleranceSeconds: number;
  /** How many verified tokens to keep; 0 turns the cache off. Default 10 000. */
  cacheSize?: number;
  /** Milliseconds since the epoch; tests move time. */
  now?: () => number;
}

export interface TokenVerifier {
  /** The caller the token authenticates, or a `TokenRejectedError` saying why not. */
  verify(token: string): Promise<Caller>;
  readonly cachedTokens: number;
}

interface VerifiedToken {
  systemId: string;
  kid: string;
  /** Seconds since the epoch. */
  exp: number;
}

export const MAX_CLOCK_TOLERANCE_SECONDS = 60;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const { credentials, audience, maxTokenLifetimeSeconds } = options;
  const tolerance = options.clockToleranceSeconds;
  if (!(tolerance >= 0 && tolerance <= MAX_CLOCK_TOLERANCE_SECONDS)) {
    throw new RangeError(
      `Clock tolerance must be 0 to ${MAX_CLOCK_TOLERANCE_SECONDS} seconds, not ${tolerance}.`,
    );
  }
  if (!(maxTokenLifetimeSeconds > 0)) throw new RangeError('The maximum token lifetime must be positive.');
  const cacheSize = options.cacheSize ?? 10_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, VerifiedToken>();

  function keyFor(
    creds: SystemCredentials | undefined,
    systemId: string,
    kid: string,
    claimed: ClaimedIdentity,
  ) {
    if (!creds) {
      throw new TokenRejectedError(
        'token-unknown-issuer',
        `No system ${shown(systemId)} is registered.`,
        claimed,
      );
    }
    if (!creds.enabled) {
      throw new TokenRejectedError('token-system-disabled', `System '${systemId}' is disabled.`, claimed);
    }
    const key = creds.keys.get(kid);
    if (!key) {
      throw new TokenRejectedError(
        'token-unknown-key',
        `System '${systemId}' has no registered key with kid ${shown(kid)}: register its public key first.`,
        claimed,
      );
    }
    if (key.retired) {
      throw new TokenRejectedError(
        'token-key-retired',
        `Key '${kid}' of system '${systemId}' has been retired.`,
        claimed,
      );
    }
    return key;
  }

  function callerOf(creds: SystemCredentials, key: RegisteredKey): Caller {
    return {
      systemId: creds.systemId,
      department: creds.department,
      roles: [...creds.roles],
      keyId: key.kid,
    };
  }

  function checkSignatureAndClaims(
    token: string,
    payload: Json,
    key: RegisteredKey,
    claimed: ClaimedIdentity,
  ) {
    const systemId = claimed.issuer as string;
    try {
      jwt.verify(token, key.publicKey, {
        algorithms: [key.alg],
        audience,
        issuer: systemId,
        clockTolerance: tolerance,
        clockTimestamp: Math.floor(now() / 1000),
      });
    } catch (error) {
      throw fromJsonWebTokenError(error, payload, claimed);
    }
    const missing = (['sub', 'exp', 'iat'] as const).find((claim) => payload[claim] === undefined);
    if (missing) {
      throw new TokenRejectedError('token-missing-claim', `The token has no '${missing}' claim.`, claimed, {
        claim: missing,
      });
    }
    if (payload.sub !== systemId) {
      throw new TokenRejectedError(
        'token-subject-mismatch',
        "The token's 'sub' must equal its 'iss' (the system id).",
        claimed,
      );
    }
    const { exp, iat } = payload;
    if (typeof iat !== 'number' || typeof exp !== 'number') {
      throw new TokenRejectedError(
        'token-malformed',
        "The token's 'iat' and 'exp' must be numbers of seconds.",
        claimed,
      );
    }
    if (iat > now() / 1000 + tolerance) {
      throw new TokenRejectedError(
        'token-not-yet-valid',
        'The token was issued in the future: check the clock.',
        claimed,
      );
    }
    if (exp - iat > maxTokenLifetimeSeconds) {
      throw new TokenRejectedError(
        'token-lifetime-too-long',
        `The token lives ${exp - iat} s; the gateway accepts at most ${maxTokenLifetimeSeconds} s between 'iat' and 'exp'.`,
        claimed,
        { maxTokenLifetimeSeconds },
      );
    }
    return exp;
  }

  function fromJsonWebTokenError(
    error: unknown,
    payload: Json,
    claimed: ClaimedIdentity,
  ): TokenRejectedError {
    if (error instanceof jwt.TokenExpiredError) {
      return new TokenRejectedError(
        'token-expired',
        `The token expired at ${error.expiredAt.toISOString()}: sign a new one.`,
        claimed,
      );
    }
    if (error instanceof jwt.NotBeforeError) {
      return new TokenRejectedError(
        'token-not-yet-valid',
        `The token is not valid before ${error.date.toISOString()}.`,
        claimed,
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    if (message === 'invalid signature') {
      return new TokenRejectedError(
        'token-bad-signature',
        'The token signature does not verify with the registered key.',
        claimed,
      );
    }
    if (message.startsWith('jwt audience invalid')) {
      if (payload.aud === undefined) {
        return new TokenRejectedError('token-missing-claim', "The token has no 'aud' claim.", claimed, {
          claim: 'aud',
        });
      }
      return new TokenRejectedError(
        'token-wrong-audience',
        `The token's audience must be '${audience}'.`,
        claimed,
        {
          audience,
        },
      );
    }
    if (/algorithm|key type|symmetric|asymmetric/i.test(message)) {
      return new TokenRejectedError(
        'token-algorithm-not-allowed',
        'The token algorithm does not match the key.',
        claimed,
      );
    }
    return new TokenRejectedError('token-malformed', `The token could not be verified: ${message}.`, claimed);
  }

  async function verifyUncached(
    token: string,
  ): Promise<{ creds: SystemCredentials; key: RegisteredKey; exp: number }> {
    const { header, payload, claimed } = parseToken(token);
    const systemId = payload.iss;
    const creds = SYSTEM_ID_PATTERN.test(systemId) ? await credentials.credentialsOf(systemId) : undefined;
    const key = keyFor(creds, systemId, header.kid, claimed);
    if (header.alg !== key.alg) {
      throw new TokenRejectedError(
        'token-algorithm-not-allowed',
        `Key '${key.kid}' is registered for ${key.alg}; the token is signed with ${header.alg}.`,
        claimed,
      );
    }
    const exp = checkSignatureAndClaims(token, payload, key, claimed);
    return { creds: creds as SystemCredentials, key, exp };
  }

  function remember(token: string, verified: VerifiedToken): void {
    if (cacheSize <= 0) return;
    if (cache.size >= cacheSize) {
      // Oldest first (Map keeps insertion order); expired entries go too while we are at it.
      const nowSeconds = now() / 1000;
      for (const [cachedToken, entry] of cache) {
        if (cache.size < cacheSize && entry.exp + tolerance > nowSeconds) break;
        cache.delete(cachedToken);
      }
    }
    cache.set(token, verified);
  }

  return {
    async verify(token: string): Promise<Caller> {
      const cached = cache.get(token);
      if (cached) {
        if (now() / 1000 < cached.exp + tolerance) {
          const claimed = { issuer: cached.systemId, keyId: cached.kid };
          try {
            const creds = await credentials.credentialsOf(cached.systemId);
            const key = keyFor(creds, cached.systemId, cached.kid, claimed);
            return callerOf(creds as SystemCredentials, key);
          } catch (error) {
            cache.delete(token);
            throw error;
          }
        }
        cache.delete(token);
      }
      const { creds, key, exp } = await verifyUncached(token);
      remember(token, { systemId: creds.systemId, kid: key.kid, exp });
      return callerOf(creds, key);
    },
    get cachedTokens() {
      return cache.size;
    },
  };
}
