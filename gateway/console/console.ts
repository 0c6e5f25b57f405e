/**
 * The data officers' console at /console/ (docs/console.md): static pages and ES modules from
 * gateway/console/assets (no build step, nothing from another host), sign-in and sign-out, and the
 * session authentication that lets those pages call the audit, review, statistics and connector APIs
 * without ever holding a token. The public summary page (/console/public.html) needs no session.
 */
import express, { type RequestHandler, Router } from 'express';
import type { AuditRecorder } from '../audit/audit-events.js';
import type { Logger } from '../foundation/logger.js';
import { consoleAssetsDir } from '../foundation/paths.js';
import type { Authenticator } from '../identity/authenticator.js';
import type { Registry } from '../registry/registry.js';
import type { Database } from '../storage/database.js';
import { createSessionAuthentication } from './console-authentication.js';
import { consoleHeaders } from './console-security.js';
import { createSessionRouter } from './console-session-routes.js';
import { createConsoleSessions } from './console-sessions.js';

export interface ConsoleOptions {
  database: Database;
  registry: Registry;
  /** Verifies the bearer token an officer signs in with. */
  authenticator: Authenticator;
  audit: AuditRecorder;
  logger: Logger;
  /** Where the pages are served from (default gateway/console/assets). */
  assetsDir?: string;
}

export interface Console {
  /** /console/**: pages, assets, sign-in and sign-out. */
  router: Router;
  /**
   * Wraps the bearer-token authentication: a request without an Authorization header but with a
   * console session (cookie + anti-CSRF header) is authenticated from the session instead.
   */
  authenticateWith(bearer: RequestHandler): RequestHandler;
  stop(): Promise<void>;
}

export async function startConsole(options: ConsoleOptions): Promise<Console> {
  const sessions = createConsoleSessions(options.database);
  const router = Router();
  router.use('/console', consoleHeaders);
  router.use(
    createSessionRouter({
      sessions,
      authenticator: options.authenticator,
      audit: options.audit,
      logger: options.logger,
    }),
  );
  router.use(
    '/console',
    express.static(options.assetsDir ?? consoleAssetsDir, {
      index: 'index.html',
      dotfiles: 'ignore',
      // app.ts answers everything with no-store; pages are small and must never be stale after an upgrade.
      cacheControl: false,
      etag: true,
      fallthrough: true,
      redirect: true,
    }),
  );
  const { authenticateWith } = createSessionAuthentication({ sessions, registry: options.registry });
  return { router, authenticateWith, stop: async () => {} };
}
