/**
 * POST /v1/lookups: one certificate lookup. POST /v1/lookups:batch: up to 100, answered item by item
 * (each with its own status and, when it failed, its own problem document), fanned out concurrently.
 * Both need an authenticated system with the `lookup` role, and every answer carries the gateway's
 * signature (JWS) binding record digest, lookup id, requester and time, and the audit log's newest
 * signed checkpoint, so every approval system holds evidence of the log's history (docs/audit.md).
 */
import { type RequestHandler, Router } from 'express';
import { callerOf, requesterOf, requireRole } from '../access/caller.js';
import type { Requester } from '../access/lookup-terms.js';
import { asGatewayError, toProblem } from '../http/problem.js';
import { parseBatchRequest } from './lookup-request.js';
import type { LookupResult, LookupService } from './lookup-service.js';

export interface SignedLookupResult extends LookupResult {
  /** Compact JWS over {lookupId, recordDigest, requester, retrievedAt, certificateType}; keys at /.well-known/jwks.json. */
  signature: string;
  /**
   * The audit log's newest signed checkpoint when the answer was signed (compact JWS, typ
   * `silobridge-audit-checkpoint+jws`, same keys). Signed on its own, so not inside `signature`.
   */
  checkpoint?: string;
}

/** The gateway's signature and the newest checkpoint; a bare string is a signature alone. */
export interface LookupSignature {
  signature: string;
  checkpoint?: string;
}

export type LookupSigner = (result: LookupResult, requester: Requester) => Promise<string | LookupSignature>;

export interface LookupRouterOptions {
  service: LookupService;
  /** Authenticates the caller (sets res.locals.caller) or answers 401. */
  authenticate: RequestHandler;
  sign: LookupSigner;
}

export function createLookupRouter(options: LookupRouterOptions): Router {
  const { service, authenticate, sign } = options;
  const router = Router();
  const lookupAndSign = async (body: unknown, requester: Requester): Promise<SignedLookupResult> => {
    const result = await service.lookup(body, requester);
    const signed = await sign(result, requester);
    if (typeof signed === 'string') return { ...result, signature: signed };
    return signed.checkpoint === undefined
      ? { ...result, signature: signed.signature }
      : { ...result, signature: signed.signature, checkpoint: signed.checkpoint };
  };

  router.post('/v1/lookups', authenticate, requireRole('lookup'), async (req, res) => {
    res.json(await lookupAndSign(req.body, requesterOf(callerOf(res))));
  });

  // A literal ':' cannot be written in an Express 5 path string (it starts a parameter).
  router.post(/^\/v1\/lookups:batch$/, authenticate, requireRole('lookup'), async (req, res) => {
    const requester = requesterOf(callerOf(res));
    const items = parseBatchRequest(req.body);
    const settled = await Promise.allSettled(items.map((item) => lookupAndSign(item, requester)));
    const results = settled.map((outcome, index) => {
      if (outcome.status === 'fulfilled') return { index, status: 200, lookup: outcome.value };
      const problem = toProblem(outcome.reason);
      // As for single lookups (gateway/http/app.ts): a stack only for what nobody anticipated.
      if (!asGatewayError(outcome.reason)) req.log.error({ err: outcome.reason, index }, 'batch item failed');
      else if (problem.status >= 500) req.log.warn({ problem: problem.type, index }, 'batch item failed');
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
