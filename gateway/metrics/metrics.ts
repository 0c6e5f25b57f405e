/**
 * Prometheus metrics on `/metrics`. One registry per gateway instance (not prom-client's global one),
 * so several gateways in one process — tests — do not collide.
 */
import { type RequestHandler, Router } from 'express';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  httpRequests: Histogram<'method' | 'route' | 'status'>;
  middleware: RequestHandler;
  router: Router;
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'silobridge_' });
  const httpRequests = new Histogram({
    name: 'silobridge_http_request_duration_seconds',
    help: 'HTTP requests served, by route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const middleware: RequestHandler = (req, res, next) => {
    const end = httpRequests.startTimer({ method: req.method });
    res.on('finish', () => {
      // The route template, never the raw path: raw paths would create one series per id.
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ route, status: String(res.statusCode) });
    });
    next();
  };
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return { registry, httpRequests, middleware, router };
}
