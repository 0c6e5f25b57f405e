/**
 * GET /v1/policies/effective?requester=<system id | department code>: what a requester may see, for
 * department teams and data officers. A system may ask about itself and its own department; `admin`
 * and `audit` may ask about anyone. Without `requester`, the calling system itself.
 * GET /v1/policies: the policy set in force (revision, files, policies), for `admin` and `audit`.
 */
import { type RequestHandler, Router } from 'express';
import { callerOf, departmentOf, hasAnyRole, MissingRoleError, requireRole } from '../access/caller.js';
import type { Requester } from '../access/lookup-terms.js';
import { BadRequestError } from '../foundation/errors.js';
import { DEPARTMENT_CODE_PATTERN, SYSTEM_ID_PATTERN } from '../protocol/codes.js';
import type { PolicyEngine } from './policy-engine.js';

export interface PolicyRouterOptions {
  engine: PolicyEngine;
  /** The authenticator's middleware; runs on these routes only. */
  authenticate: RequestHandler;
}

function parseRequester(raw: unknown, fallback: Requester): Requester {
  if (raw === undefined) return fallback;
  if (typeof raw === 'string' && SYSTEM_ID_PATTERN.test(raw))
    return { department: departmentOf(raw), system: raw };
  if (typeof raw === 'string' && DEPARTMENT_CODE_PATTERN.test(raw)) return { department: raw };
  throw new BadRequestError(
    "'requester' must be a system id (<department>/<system>) or a department code.",
    [{ pointer: '/requester', reason: 'not a system id or department code' }],
    'invalid-query',
  );
}

export function createPolicyRouter(options: PolicyRouterOptions): Router {
  const { engine, authenticate } = options;
  const router = Router();

  router.get('/v1/policies/effective', authenticate, (req, res) => {
    const caller = callerOf(res);
    const requester = parseRequester(req.query.requester, {
      department: caller.department,
      system: caller.systemId,
    });
    if (requester.department !== caller.department && !hasAnyRole(caller, ['admin', 'audit'])) {
      throw new MissingRoleError(caller, 'audit', 'admin');
    }
    res.json(engine.effective(requester));
  });

  router.get('/v1/policies', authenticate, requireRole('admin', 'audit'), (_req, res) => {
    res.json(engine.summary());
  });

  return router;
}
