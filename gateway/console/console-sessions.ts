/**
 * Console sessions: what a signed-in data officer's browser holds instead of a token. A session id
 * (256 random bits) travels only in an HttpOnly cookie and is stored as its SHA-256; each session has
 * its own anti-CSRF token that every request made with the cookie must echo in a header. Sessions are
 * short and absolute (they are not extended by use): an officer signs in again with a fresh token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from '../storage/database.js';

/** How long a session lasts from sign-in. The migration refuses anything beyond 8 hours. */
export const SESSION_LIFETIME_SECONDS = 30 * 60;
/** Sessions ended this long ago are deleted (the audit log keeps the sign-ins and sign-outs). */
const PURGE_AFTER = '1 day';
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export interface NewSession {
  /** The cookie's value: never stored, never logged. */
  id: string;
  csrfToken: string;
  systemId: string;
  expiresAt: string;
}

export interface ActiveSession {
  systemId: string;
  csrfToken: string;
  expiresAt: string;
}

export interface ConsoleSessions {
  create(systemId: string): Promise<NewSession>;
  /** The session if it exists, was not revoked and has not expired. */
  find(id: string): Promise<ActiveSession | undefined>;
  /** Ends the session; true if it was active. */
  revoke(id: string): Promise<boolean>;
}

const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');
const randomToken = () => randomBytes(32).toString('base64url');
const toIso = (value: unknown) => new Date(value as string | Date).toISOString();

/** Compares a token the browser sent with the session's, in time independent of where they differ. */
export function sameToken(sent: string | undefined, expected: string): boolean {
  if (sent === undefined) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(sent), digest(expected));
}

export function createConsoleSessions(database: Database, lifetimeSeconds = SESSION_LIFETIME_SECONDS) {
  const sessions: ConsoleSessions = {
    async create(systemId) {
      const id = randomToken();
      const csrfToken = randomToken();
      await database.query(
        `DELETE FROM console_sessions WHERE expires_at < now() - interval '${PURGE_AFTER}'`,
      );
      // The database's clock decides expiry everywhere, so instances with drifting clocks agree.
      const { rows } = await database.query<{ expires_at: unknown }>(
        `INSERT INTO console_sessions (id_hash, csrf_token, system_id, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING expires_at`,
        [hashOf(id), csrfToken, systemId, lifetimeSeconds],
      );
      return { id, csrfToken, systemId, expiresAt: toIso(rows[0]?.expires_at) };
    },

    async find(id) {
      if (!SESSION_ID.test(id)) return undefined;
      const { rows } = await database.query<{ system_id: string; csrf_token: string; expires_at: unknown }>(
        `SELECT system_id, csrf_token, expires_at FROM console_sessions
          WHERE id_hash = $1 AND revoked_at IS NULL AND expires_at > now()`,
        [hashOf(id)],
      );
      const row = rows[0];
      return row && { systemId: row.system_id, csrfToken: row.csrf_token, expiresAt: toIso(row.expires_at) };
    },

    async revoke(id) {
      if (!SESSION_ID.test(id)) return false;
      const { rowCount } = await database.query(
        `UPDATE console_sessions SET revoked_at = now()
          WHERE id_hash = $1 AND revoked_at IS NULL AND expires_at > now()`,
        [hashOf(id)],
      );
      return rowCount > 0;
    },
  };
  return sessions;
}
