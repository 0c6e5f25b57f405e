/**
 * The Express application: request ids and logging, JSON bodies with a size and a depth limit (and
 * no NUL in them or the URL), security headers, the capability routers, and problem JSON for everything that goes wrong (unknown
 * routes and undecodable paths included).
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Router } from 'express';
import { pinoHttp } from 'pino-http';
import { NotFoundError } from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';
import { DEFAULT_MAX_JSON_DEPTH, jsonBody } from './json-body.js';
import { problemErrorHandler, problemTypeOf } from './problem.js';

/** A caller-supplied request id is kept (for tracing across systems) only if it is short and plain. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export interface AppOptions {
  logger: Logger;
  bodyLimitBytes: number;
  /** Deepest nesting of objects and arrays in a JSON body (default DEFAULT_MAX_JSON_DEPTH). */
  bodyMaxDepth?: number;
  /**
   * Requests whose unreadable body (malformed, too large, too deep, wrong type or encoding) is handed
   * to their route instead of answered at once (default: lookups that carry credentials, see below).
   */
  deferBodyErrors?: (req: Request) => boolean;
  routers: Router[];
  /** Runs before the routers, e.g. metrics. */
  middleware?: RequestHandler[];
  /** Error middleware that observes errors before they become problem JSON (e.g. auditing refusals). */
  errorMiddleware?: ErrorRequestHandler[];
}

/** The lookup routes, as Express matches them (any letter case, one trailing slash allowed). */
const LOOKUP_PATHS = new Set(['/v1/lookups', '/v1/lookups:batch']);

/**
 * Every lookup attempt is audited, whatever breaks (docs/http-api.md). A lookup whose body cannot be
 * read is still an attempt, but only an authenticated caller's attempt can be recorded as a lookup:
 * so when the request carries credentials, the body's problem goes on to the route, which
 * authenticates first and gives it to the lookup service (gateway/lookups/lookup-request.ts throws
 * it there), which audits it under a lookup id. Without credentials it is answered at once, as for
 * every other route.
 */
export function isCredentialedLookup(req: Request): boolean {
  if (req.method !== 'POST' || req.headers.authorization === undefined) return false;
  return LOOKUP_PATHS.has(req.path.toLowerCase().replace(/(.)\/$/, '$1'));
}

const securityHeaders: RequestHandler = (_req, res, next) => {
  // Responses carry personal data: never cache them, never let a browser sniff or frame them.
  res.set({
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
  });
  next();
};

/** Adds the problem type (set by problem.ts) to the request's log line. */
function withProblem(res: ServerResponse, line: Record<string, unknown>): Record<string, unknown> {
  const problem = problemTypeOf(res);
  return problem === undefined ? line : { ...line, problem };
}

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Responses are `no-store` (securityHeaders): an ETag would only cost a hash of every body, and a
  // 304 must never stand in for a fresh answer about a person.
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(
    pinoHttp({
      logger: options.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id =
          typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Every line logged through req.log carries `requestId`; request lines stay short (no headers).
      quietReqLogger: true,
      customAttributeKeys: { reqId: 'requestId' },
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      // One line per request. A failure we did not expect (problem.ts hands it over as `res.err`)
      // is an error with its stack; an expected 5xx (no live connector, a provider's timeout) is a
      // warning that names its problem type; everything else is info.
      customLogLevel: (_req, res, error) =>
        error || res.err ? 'error' : res.statusCode >= 500 ? 'warn' : 'info',
      customSuccessObject: (_req, res, line) => withProblem(res, line),
      customErrorObject: (_req, res, error, line) =>
        res.err === error ? withProblem(res, line) : withProblem(res, { ...line, err: undefined }),
      autoLogging: {
        ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics',
      },
    }),
  );
  app.use(securityHeaders);
  for (const middleware of options.middleware ?? []) app.use(middleware);
  app.use(
    jsonBody({
      limitBytes: options.bodyLimitBytes,
      maxDepth: options.bodyMaxDepth ?? DEFAULT_MAX_JSON_DEPTH,
      deferTo: options.deferBodyErrors ?? isCredentialedLookup,
    }),
  );
  for (const router of options.routers) app.use(router);
  app.use((req, _res, next) => {
    next(new NotFoundError(`No route for ${req.method} ${req.path.slice(0, 200)}.`, 'route-not-found'));
  });
  for (const middleware of options.errorMiddleware ?? []) app.use(middleware);
  app.use(problemErrorHandler);
  return app;
}
