/**
 * What keeps the console's pages and session safe in a browser: a strict Content-Security-Policy (no
 * inline script or style, nothing from elsewhere, so markup planted in audit data cannot run), the
 * session cookie's flags, and the checks that refuse cross-site use of the session.
 */
import { parseCookie, stringifySetCookie } from 'cookie';
import type { Request, RequestHandler, Response } from 'express';
import { UnauthenticatedError } from '../access/caller.js';
import { GatewayError } from '../foundation/errors.js';

export const SESSION_COOKIE = 'silobridge_console';
export const CSRF_HEADER = 'x-csrf-token';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Added to what gateway/http/app.ts sets on every response (no-store, nosniff, DENY, no-referrer). */
export const consoleHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  });
  next();
};

/** 401 with a type the console turns into "your session ended, sign in again". */
export class SessionEndedError extends UnauthenticatedError {
  constructor(detail: string) {
    super(detail, 'console-session-ended');
  }
}

export function csrfRejected(detail: string): GatewayError {
  return new GatewayError('console-csrf-rejected', 403, 'Access denied', detail, {
    reason: 'csrf-token-invalid',
  });
}

/**
 * What a console session may call: the data officers' API and nothing else. Everything beyond it
 * (lookups, the registry, a system's own keys, policies) needs the system's own token, so a session
 * can never become more than an officer reading and reviewing the log, whatever routes are added.
 */
const SESSION_ROUTES: ReadonlyArray<{ methods: ReadonlySet<string>; path: RegExp }> = [
  { methods: new Set(['GET', 'POST']), path: /^\/v1\/audit(\/|$)/ },
  { methods: new Set(['GET']), path: /^\/v1\/statistics(\/|$)/ },
  { methods: new Set(['GET']), path: /^\/v1\/connectors\/?$/ },
  { methods: new Set(['GET']), path: /^\/v1\/whoami\/?$/ },
];

export function sessionMayCall(req: Request): boolean {
  // The whole path: authentication may run in a router mounted on a prefix (req.path is then relative).
  const path = (req.baseUrl + req.path).toLowerCase();
  return SESSION_ROUTES.some((route) => route.methods.has(req.method) && route.path.test(path));
}

export function sessionRouteRefused(req: Request): GatewayError {
  return new GatewayError(
    'console-session-not-allowed',
    403,
    'Access denied',
    `A console session may use the audit, statistics and connector-status API only, not ${req.method} ${(req.baseUrl + req.path).slice(0, 200)}: call it with your system's own token.`,
    { reason: 'console-session-not-allowed' },
  );
}

export function crossSiteRejected(): GatewayError {
  return new GatewayError(
    'console-cross-site',
    403,
    'Access denied',
    'The console accepts its session only from its own pages.',
    { reason: 'cross-site-request' },
  );
}

export function sessionIdOf(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  return parseCookie(header)[SESSION_COOKIE];
}

/**
 * A request from another site (Fetch Metadata, or an Origin that is not this host). SameSite=Strict
 * already keeps the cookie off such requests in current browsers; this holds for older ones too.
 */
export function isCrossSite(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

export function setSessionCookie(req: Request, res: Response, id: string, maxAgeSeconds: number): void {
  res.append(
    'Set-Cookie',
    stringifySetCookie(SESSION_COOKIE, id, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: req.secure,
      maxAge: maxAgeSeconds,
    }),
  );
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.append(
    'Set-Cookie',
    stringifySetCookie(SESSION_COOKIE, '', {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: req.secure,
      maxAge: 0,
    }),
  );
}
