/**
 * Authentication for the HTTP API: `Authorization: Bearer <JWT>` signed by the calling system's own
 * key. The middleware puts the verified `Caller` on `res.locals.caller`, or refuses with 401 problem
 * JSON naming the cause (and a `WWW-Authenticate` header), recording the refusal in the audit log.
 */
import type { RequestHandler } from 'express';
import type { Caller } from '../access/caller.js';
import type { AuditRecorder } from '../audit/audit-events.js';
import type { Logger } from '../foundation/logger.js';
import type { CredentialSource } from './credentials.js';
import { isRefusal, recordRefusal } from './refusal-audit.js';
import { TokenRejectedError } from './token-errors.js';
import { createTokenVerifier, type TokenVerifier } from './token-verifier.js';

export interface AuthenticatorOptions {
  /** Where systems, roles and keys come from: the registry (`createRegistry`). */
  registry: CredentialSource;
  /** The `aud` every token must carry, e.g. `silobridge`. */
  audience: string;
  /** Longest accepted `exp - iat`; default 900 (15 minutes). */
  maxTokenLifetimeSeconds?: number;
  /** Clock skew allowed on `exp`, `nbf` and `iat`, 0 to 60; default 30. */
  clockToleranceSeconds?: number;
  audit: AuditRecorder;
  logger: Logger;
  /** Verified tokens kept in memory until they expire; 0 turns caching off. Default 10 000. */
  cacheSize?: number;
  now?: () => number;
}

export interface Authenticator {
  /** Express middleware: sets `res.locals.caller` or throws a 401 `TokenRejectedError` (audited). */
  middleware: RequestHandler;
  /** Verifies an `Authorization` header value outside Express (not audited: the caller decides). */
  authenticate(authorization: string | undefined): Promise<Caller>;
  readonly verifier: TokenVerifier;
}

const BEARER = /^Bearer +([^\s]+) *$/i;

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const verifier = createTokenVerifier({
    credentials: options.registry,
    audience: options.audience,
    maxTokenLifetimeSeconds: options.maxTokenLifetimeSeconds ?? 900,
    clockToleranceSeconds: options.clockToleranceSeconds ?? 30,
    ...(options.cacheSize !== undefined ? { cacheSize: options.cacheSize } : {}),
    ...(options.now ? { now: options.now } : {}),
  });

  async function authenticate(authorization: string | undefined): Promise<Caller> {
    if (authorization === undefined || authorization.trim() === '') {
      throw new TokenRejectedError(
        'token-missing',
        "This request needs an 'Authorization: Bearer <token>' header.",
      );
    }
    const match = BEARER.exec(authorization);
    if (!match?.[1]) {
      throw new TokenRejectedError('token-missing', "The Authorization header must be 'Bearer <token>'.");
    }
    return verifier.verify(match[1]);
  }

  const middleware: RequestHandler = async (req, res, next) => {
    try {
      res.locals.caller = await authenticate(req.headers.authorization);
    } catch (error) {
      if (isRefusal(error)) await recordRefusal(options.audit, options.logger, error, req, res);
      throw error;
    }
    next();
  };

  return { middleware, authenticate, verifier };
}
