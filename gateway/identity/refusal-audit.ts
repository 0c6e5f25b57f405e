/**
 * Every 401, 403, 409 and 429 is an `access-refused` audit event. Errors are marked once recorded, so a
 * refusal the authenticator (or the lookup pipeline) already recorded is not recorded twice when it
 * reaches the Express error middleware on its way to becoming problem JSON.
 */
import type { ErrorRequestHandler, Request, Response } from 'express';
import { type Caller, requesterOf } from '../access/caller.js';
import type { AccessRefusedAuditEvent, AuditRecorder } from '../audit/audit-events.js';
import { isAudited, markAudited } from '../audit/audited-errors.js';
import { GatewayError } from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';
import { SYSTEM_ID_PATTERN } from '../protocol/codes.js';
import { TokenRejectedError } from './token-errors.js';

/** 409: a registry change refused for the state it would break (duplicate, last admin, ...). */
const REFUSAL_STATUSES = new Set([401, 403, 409, 429]);
export type RefusalStatus = 401 | 403 | 409 | 429;
export function isRefusal(error: unknown): error is GatewayError & { status: RefusalStatus } {
  return error instanceof GatewayError && REFUSAL_STATUSES.has(error.status);
}

/**
 * What a rejected token claimed as its issuer. Kept apart from `requester`: an unverified name must
 * never make a refused attempt look like the named system's own.
 */
function claimedIssuerOf(error: GatewayError): string | undefined {
  const issuer = error instanceof TokenRejectedError ? error.claimed.issuer : undefined;
  return issuer && SYSTEM_ID_PATTERN.test(issuer) ? issuer : undefined;
}

export function refusalEvent(
  error: GatewayError & { status: RefusalStatus },
  req: Request,
  res: Response,
): AccessRefusedAuditEvent {
  const caller = res.locals.caller as Caller | undefined;
  const requester = caller ? requesterOf(caller) : undefined;
  const claimedIssuer = caller ? undefined : claimedIssuerOf(error);
  return {
    kind: 'access-refused',
    at: new Date().toISOString(),
    status: error.status,
    problemType: error.type,
    reason: String(error.extensions.reason ?? error.problem),
    ...(requester ? { requester } : {}),
    ...(claimedIssuer ? { claimedIssuer } : {}),
    method: req.method,
    path: (req.originalUrl.split('?')[0] ?? '').slice(0, 500),
    ...(req.id !== undefined ? { requestId: String(req.id) } : {}),
  };
}

/** Records the refusal; an audit failure is logged but does not turn the refusal into a 500. */
export async function recordRefusal(
  audit: AuditRecorder,
  logger: Logger | undefined,
  error: GatewayError & { status: RefusalStatus },
  req: Request,
  res: Response,
): Promise<void> {
  if (isAudited(error)) return;
  markAudited(error);
  try {
    await audit.record(refusalEvent(error, req, res));
  } catch (auditError) {
    (req.log ?? logger)?.error({ err: auditError, problem: error.type }, 'could not audit a refused request');
  }
}

/**
 * Install after the routers and before `problemErrorHandler`: records 401/403/409/429 that nobody has
 * recorded yet (role checks, policy routes, refused registry changes), then passes the error on.
 */
export function createRefusalAuditMiddleware(audit: AuditRecorder, logger?: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (!isRefusal(error) || isAudited(error)) {
      next(error);
      return;
    }
    recordRefusal(audit, logger, error, req, res).then(() => next(error));
  };
}
