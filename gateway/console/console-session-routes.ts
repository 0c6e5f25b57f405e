/**
 * Signing in to and out of the console:
 *   POST   /console/session  {token}  an `audit` system's bearer token -> session cookie + CSRF token
 *   GET    /console/session           the current session (the page asks after a reload), or none
 *   DELETE /console/session           signs out: the session is revoked on the server, not just forgotten
 * A refused sign-in is audited like any refused request; sign-in and sign-out are audit events.
 */
import { Router } from 'express';
import { MissingRoleError } from '../access/caller.js';
import type { AuditRecorder } from '../audit/audit-events.js';
import type { Logger } from '../foundation/logger.js';
import { bodyObject, InputReader } from '../http/input-reader.js';
import type { Authenticator } from '../identity/authenticator.js';
import { isRefusal, recordRefusal } from '../identity/refusal-audit.js';
import {
  CSRF_HEADER,
  clearSessionCookie,
  crossSiteRejected,
  csrfRejected,
  isCrossSite,
  sessionIdOf,
  setSessionCookie,
} from './console-security.js';
import { type ConsoleSessions, SESSION_LIFETIME_SECONDS, sameToken } from './console-sessions.js';

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

export function createSessionRouter(options: {
  sessions: ConsoleSessions;
  authenticator: Authenticator;
  audit: AuditRecorder;
  logger: Logger;
}): Router {
  const { sessions, authenticator, audit, logger } = options;
  const router = Router();

  router.post('/console/session', async (req, res) => {
    if (isCrossSite(req)) throw crossSiteRejected();
    const reader = new InputReader(bodyObject(req.body));
    const token = reader.string('token', COMPACT_JWS, 'a token as `silobridge token` prints it', true);
    reader.rejectUnknown();
    reader.done('The sign-in');
    try {
      const caller = await authenticator.authenticate(`Bearer ${token}`);
      res.locals.caller = caller;
      if (!caller.roles.includes('audit')) throw new MissingRoleError(caller, 'audit');
      // Recorded before the session exists: no sign-in the log does not show.
      await audit.record({
        kind: 'audit-access',
        at: new Date().toISOString(),
        actor: caller.systemId,
        action: 'console-sign-in',
        details: {
          lifetimeSeconds: SESSION_LIFETIME_SECONDS,
          ...(caller.keyId ? { keyId: caller.keyId } : {}),
        },
      });
      const session = await sessions.create(caller.systemId);
      setSessionCookie(req, res, session.id, SESSION_LIFETIME_SECONDS);
      res.status(201).json({
        systemId: session.systemId,
        expiresAt: session.expiresAt,
        csrfToken: session.csrfToken,
      });
    } catch (error) {
      if (isRefusal(error)) await recordRefusal(audit, logger, error, req, res);
      throw error;
    }
  });

  // Answers 200 either way: a page opened before signing in is not a refused request.
  router.get('/console/session', async (req, res) => {
    const id = sessionIdOf(req);
    const session = id === undefined ? undefined : await sessions.find(id);
    if (!session) {
      if (id !== undefined) clearSessionCookie(req, res);
      res.json({ signedIn: false, ...(id !== undefined ? { ended: true } : {}) });
      return;
    }
    res.json({ signedIn: true, ...session });
  });

  router.delete('/console/session', async (req, res) => {
    if (isCrossSite(req)) throw crossSiteRejected();
    const id = sessionIdOf(req);
    const session = id === undefined ? undefined : await sessions.find(id);
    if (id !== undefined && session) {
      const sent = req.headers[CSRF_HEADER];
      if (!sameToken(typeof sent === 'string' ? sent : undefined, session.csrfToken))
        throw csrfRejected('Sign out from the console’s own page.');
      await audit.record({
        kind: 'audit-access',
        at: new Date().toISOString(),
        actor: session.systemId,
        action: 'console-sign-out',
      });
      await sessions.revoke(id);
    }
    clearSessionCookie(req, res);
    res.status(204).end();
  });

  return router;
}
