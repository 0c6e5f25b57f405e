/**
 * Signs a system's bearer token: what `silobridge token` prints and what a department's own code
 * should produce (any JWT library works: `iss` = `sub` = system id, `aud`, `iat`, `exp`, `kid`).
 */
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { PrivateSigningKey } from './system-keys.js';

export interface TokenRequest {
  systemId: string;
  key: PrivateSigningKey;
  audience: string;
  /** Seconds from `iat` to `exp`; the gateway refuses more than its maximum (default 900). */
  lifetimeSeconds: number;
  /** Milliseconds since the epoch. */
  now?: number;
}

export function signToken(request: TokenRequest): string {
  const iat = Math.floor((request.now ?? Date.now()) / 1000);
  return jwt.sign(
    {
      iss: request.systemId,
      sub: request.systemId,
      aud: request.audience,
      iat,
      exp: iat + request.lifetimeSeconds,
      jti: randomUUID(),
    },
    request.key.pem,
    { algorithm: request.key.alg, keyid: request.key.kid },
  );
}
