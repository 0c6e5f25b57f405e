/**
 * Prometheus metrics on `/metrics`. One registry per gateway instance (not prom-client's global one),
 * so several gateways in one process — tests — do not collide. Ours are named `silobridge_*`; the
 * Node.js and process metrics keep prom-client's usual names (`process_*`, `nodejs_*`), which the
 * ecosystem's dashboards expect.
 */
import { type Request, type RequestHandler, Router } from 'express';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { OTHER } from './label-values.js';

export interface GatewayMetrics {
  registry: Registry;
  httpRequests: Histogram<'method' | 'route' | 'status'>;
  middleware: RequestHandler;
  router: Router;
}

/**
 * prom-client's gauges of the totals of `nodejs_active_handles`, `_requests` and `_resources`: a gauge
 * named `_total` fails `promtool check metrics`, and `sum(nodejs_active_handles)` gives the same.
 */
const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** A literal path written as a regular expression (`/^\/v1\/lookups:batch$/`), as its text. */
const regexpPaths = new WeakMap<RegExp, string>();
function literalOf(path: RegExp): string {
  let literal = regexpPaths.get(path);
  if (literal === undefined) {
    literal = path.source.replace(/^\^/, '').replace(/\$$/, '').replace(/\\(.)/g, '$1');
    regexpPaths.set(path, literal);
  }
  return literal;
}

/**
 * The route template that answered, never the raw path (that would make one series per id). A route
 * written as a regular expression for its literal ':' (`/v1/lookups:batch`) is labelled with its text,
 * and so is one written as an escaped path string (`/v1/lookups\\:batch`).
 */
export function routeLabel(req: Request): string {
  const path: unknown = req.route?.path;
  if (path === undefined) return 'unmatched';
  if (path instanceof RegExp) return `${req.baseUrl}${literalOf(path)}`;
  return typeof path === 'string' ? `${req.baseUrl}${path}`.replace(/\\(.)/g, '$1') : String(path);
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  const httpRequests = new Histogram({
    name: 'silobridge_http_request_duration_seconds',
    help: 'HTTP requests served, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const middleware: RequestHandler = (req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      httpRequests.observe(
        {
          method: METHODS.has(req.method) ? req.method : OTHER,
          route: routeLabel(req),
          status: String(res.statusCode),
        },
        (performance.now() - started) / 1000,
      );
    });
    next();
  };
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return { registry, httpRequests, middleware, router };
}
