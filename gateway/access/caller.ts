/**
 * Who is calling: the registered system a request was authenticated as. Roles come from the
 * registry, never from token claims. The authentication middleware puts the caller on
 * `res.locals.caller`; routes read it with `callerOf(res)` and guard with `requireRole`.
 */
import type { RequestHandler, Response } from 'express';
import { GatewayError } from '../foundation/errors.js';
import type { Requester } from './lookup-terms.js';

export const ROLES = ['lookup', 'connector', 'audit', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Caller {
  /** `<department>/<system>`, e.g. `civil-affairs/marriage-registry`. */
  systemId: string;
  department: string;
  roles: Role[];
  /** The key id (`kid`) the request's token was verified with. */
  keyId?: string;
}

export class UnauthenticatedError extends GatewayError {
  constructor(detail: string, problem = 'unauthenticated') {
    super(problem, 401, 'Authentication required', detail);
    // RFC 9110: every 401 names the scheme that would work. Token errors add RFC 6750 details.
    this.headers['WWW-Authenticate'] = 'Bearer realm="silobridge"';
  }
}

export class MissingRoleError extends GatewayError {
  constructor(caller: Caller, role: Role, ...alternatives: Role[]) {
    const wanted = [role, ...alternatives];
    super(
      'missing-role',
      403,
      'Access denied',
      `System '${caller.systemId}' does not have the ${wanted.map((r) => `'${r}'`).join(' or ')} role.`,
      {
        reason: 'missing-role',
        requiredRole: role,
        ...(alternatives.length > 0 ? { anyOfRoles: wanted } : {}),
      },
    );
  }
}

export function callerOf(res: Response): Caller {
  const caller = res.locals.caller as Caller | undefined;
  if (!caller) throw new UnauthenticatedError('This request was not authenticated.');
  return caller;
}

/** The caller as the lookup pipeline and the audit log name it. */
export function requesterOf(caller: Caller): Requester {
  return { department: caller.department, system: caller.systemId };
}

export function departmentOf(systemId: string): string {
  return systemId.slice(0, systemId.indexOf('/'));
}

export function hasAnyRole(caller: Caller, roles: readonly Role[]): boolean {
  return roles.some((role) => caller.roles.includes(role));
}

export function requireRole(role: Role, ...alternatives: Role[]): RequestHandler {
  return (_req, res, next) => {
    const caller = callerOf(res);
    if (!hasAnyRole(caller, [role, ...alternatives]))
      throw new MissingRoleError(caller, role, ...alternatives);
    next();
  };
}
