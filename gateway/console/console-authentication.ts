/**
 * Requests made from the console carry no bearer token: they are authenticated from the session
 * cookie, and only with the anti-CSRF header that the console's own pages add. The caller a session
 * yields has the `audit` role and nothing else, whatever else its system may do: a session never
 * looks up a certificate or administers the registry, and it may call the data officers' API only
 * (console-security.ts, SESSION_ROUTES), so no route that trusts a system with its own affairs (its
 * keys, its department's connector) can be reached with a session. Each request re-reads the system's registration,
 * so disabling it or taking away its role ends its sessions at once.
 */
import type { Request, RequestHandler } from 'express';
import type { Caller } from '../access/caller.js';
import type { CredentialSource } from '../identity/credentials.js';
import {
  CSRF_HEADER,
  crossSiteRejected,
  csrfRejected,
  isCrossSite,
  SessionEndedError,
  sessionIdOf,
  sessionMayCall,
  sessionRouteRefused,
} from './console-security.js';
import type { ConsoleSessions } from './console-sessions.js';
import { sameToken } from './console-sessions.js';

export interface SessionAuthentication {
  authenticateWith(bearer: RequestHandler): RequestHandler;
}

export function createSessionAuthentication(options: {
  sessions: ConsoleSessions;
  registry: CredentialSource;
}): SessionAuthentication {
  const { sessions, registry } = options;

  async function callerOfSession(req: Request, sessionId: string): Promise<Caller> {
    const session = await sessions.find(sessionId);
    if (!session) throw new SessionEndedError('Your console session has ended. Sign in again.');
    if (isCrossSite(req)) throw crossSiteRejected();
    const sent = req.headers[CSRF_HEADER];
    if (!sameToken(typeof sent === 'string' ? sent : undefined, session.csrfToken)) {
      throw csrfRejected(
        'A request made with the console session must carry its X-CSRF-Token header: only the console’s pages can send it.',
      );
    }
    const credentials = await registry.credentialsOf(session.systemId);
    if (!credentials?.enabled || !credentials.roles.includes('audit')) {
      await sessions.revoke(sessionId);
      throw new SessionEndedError(
        `Your console session has ended: system '${session.systemId}' is disabled or no longer has the audit role.`,
      );
    }
    return { systemId: credentials.systemId, department: credentials.department, roles: ['audit'] };
  }

  return {
    authenticateWith(bearer) {
      return async (req, res, next) => {
        // A bearer token, when given, decides alone: a cookie never widens or replaces it.
        const sessionId = req.headers.authorization === undefined ? sessionIdOf(req) : undefined;
        if (sessionId === undefined) return bearer(req, res, next);
        res.locals.caller = await callerOfSession(req, sessionId);
        if (!sessionMayCall(req)) throw sessionRouteRefused(req);
        next();
      };
    },
  };
}
