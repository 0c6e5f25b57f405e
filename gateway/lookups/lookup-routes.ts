/**
 * POST /v1/lookups: one certificate lookup. POST /v1/lookups:batch: up to 100, answered item by item
 * (each with its own status and, when it failed, its own problem document), fanned out concurrently.
 * GET /v1/connectors: the department connectors this gateway sees, live or not.
 */
import { Router } from 'express';
import { toProblem } from '../http/problem.js';
import type { ConnectorDirectory } from './connector-directory.js';
import type { Requester } from './lookup-pipeline.js';
import { parseBatchRequest } from './lookup-request.js';
import type { LookupService } from './lookup-service.js';

/**
 * Who is calling. Authentication (JWT against registered keys) slots in here; until it lands every
 * caller is this anonymous requester, which the embedded demo accepts.
 */
export type RequesterResolver = (
  headers: Record<string, string | string[] | undefined>,
) => Promise<Requester>;

export const anonymousRequester: RequesterResolver = async () => ({ department: 'anonymous' });

export function createLookupRouter(
  service: LookupService,
  directory: ConnectorDirectory,
  resolveRequester: RequesterResolver,
): Router {
  const router = Router();

  // Which department connectors this gateway sees, and whether they are live: for department IT
  // teams checking that their connector is announced, and for operators.
  router.get('/v1/connectors', (_req, res) => {
    res.json({ connectors: directory.list() });
  });

  router.post('/v1/lookups', async (req, res) => {
    const requester = await resolveRequester(req.headers);
    const result = await service.lookup(req.body, requester);
    res.json(result);
  });

  // A literal ':' cannot be written in an Express 5 path string (it starts a parameter).
  router.post(/^\/v1\/lookups:batch$/, async (req, res) => {
    const requester = await resolveRequester(req.headers);
    const items = parseBatchRequest(req.body);
    const settled = await Promise.allSettled(items.map((item) => service.lookup(item, requester)));
    const results = settled.map((outcome, index) => {
      if (outcome.status === 'fulfilled') return { index, status: 200, lookup: outcome.value };
      const problem = toProblem(outcome.reason);
      if (problem.status >= 500) req.log.error({ err: outcome.reason, index }, 'batch item failed');
      return { index, status: problem.status, problem };
    });
    res.json({
      results,
      summary: {
        total: results.length,
        succeeded: results.filter((result) => result.status === 200).length,
        failed: results.filter((result) => result.status !== 200).length,
      },
    });
  });

  return router;
}
