/**
 * The registry's HTTP API. Departments and systems are managed by admins; a system may list, add and
 * retire its own keys without admin help (rotation); data officers (`audit`) may read.
 *
 *   GET  /v1/whoami                                   any authenticated system
 *   GET  /v1/departments, /v1/departments/{code}      any authenticated system
 *   POST /v1/departments                              admin
 *   GET  /v1/systems[?department=]                    admin, audit
 *   POST /v1/systems                                  admin
 *   GET  /v1/systems/{dept}/{system}                  admin, audit, the system itself
 *   PATCH /v1/systems/{dept}/{system}                 admin
 *   GET  /v1/systems/{dept}/{system}/keys             admin, audit, the system itself
 *   POST /v1/systems/{dept}/{system}/keys             admin, the system itself
 *   DELETE /v1/systems/{dept}/{system}/keys/{kid}     admin, the system itself (retires the key)
 *
 * A system's webhook targets (where its change notices go) are under the same path:
 * gateway/notices/webhook-target-routes.ts.
 */
import { type Request, type RequestHandler, type Response, Router } from 'express';
import {
  type Caller,
  callerOf,
  hasAnyRole,
  MissingRoleError,
  type Role,
  requireRole,
} from '../access/caller.js';
import { NotFoundError } from '../foundation/errors.js';
import type { Registry, StoredKey, SystemWithKeys } from './registry.js';
import { parseDepartment, parseNewKey, parseNewSystem, parseSystemChanges } from './registry-requests.js';

export interface RegistryRouterOptions {
  registry: Registry;
  /** The authenticator's middleware (`createAuthenticator(...).middleware`); runs on these routes only. */
  authenticate: RequestHandler;
}

export const SYSTEM_PATH = '/v1/systems/:department/:system';

export function systemIdOf(req: Request): string {
  return `${req.params.department}/${req.params.system}`;
}

/** The system itself, or a caller holding one of `roles`. */
export function selfOr(...roles: [Role, ...Role[]]): RequestHandler {
  return (req, res, next) => {
    const caller = callerOf(res);
    if (caller.systemId !== systemIdOf(req) && !hasAnyRole(caller, roles))
      throw new MissingRoleError(caller, ...roles);
    next();
  };
}

export function keyView(key: StoredKey) {
  const { systemId: _systemId, ...view } = key;
  return view;
}

export function systemView(system: SystemWithKeys) {
  return { ...system, keys: system.keys.map(keyView) };
}

function created(res: Response, location: string, body: unknown): void {
  res.status(201).location(location).json(body);
}

export function createRegistryRouter(options: RegistryRouterOptions): Router {
  const { registry, authenticate } = options;
  const router = Router();
  const actor = (res: Response) => callerOf(res).systemId;

  router.get('/v1/whoami', authenticate, (_req, res) => {
    const caller: Caller = callerOf(res);
    res.json(caller);
  });

  router.get('/v1/departments', authenticate, async (_req, res) => {
    res.json({ departments: await registry.listDepartments() });
  });

  router.get('/v1/departments/:code', authenticate, async (req, res) => {
    const department = await registry.getDepartment(String(req.params.code));
    if (!department) throw new NotFoundError(`No department '${req.params.code}'.`, 'department-not-found');
    res.json(department);
  });

  router.post('/v1/departments', authenticate, requireRole('admin'), async (req, res) => {
    const department = await registry.createDepartment(actor(res), parseDepartment(req.body));
    created(res, `/v1/departments/${department.code}`, department);
  });

  router.get('/v1/systems', authenticate, requireRole('admin', 'audit'), async (req, res) => {
    const department = typeof req.query.department === 'string' ? req.query.department : undefined;
    res.json({ systems: (await registry.listSystems(department)).map(systemView) });
  });

  router.post('/v1/systems', authenticate, requireRole('admin'), async (req, res) => {
    const system = await registry.createSystem(actor(res), parseNewSystem(req.body));
    created(res, `/v1/systems/${system.id}`, systemView(system));
  });

  const loadSystem = async (id: string) => {
    const system = await registry.getSystem(id);
    if (!system) throw new NotFoundError(`No system '${id}' is registered.`, 'system-not-found');
    return system;
  };

  router.get(SYSTEM_PATH, authenticate, selfOr('admin', 'audit'), async (req, res) => {
    res.json(systemView(await loadSystem(systemIdOf(req))));
  });

  router.patch(SYSTEM_PATH, authenticate, requireRole('admin'), async (req, res) => {
    res.json(
      systemView(await registry.updateSystem(actor(res), systemIdOf(req), parseSystemChanges(req.body))),
    );
  });

  router.get(`${SYSTEM_PATH}/keys`, authenticate, selfOr('admin', 'audit'), async (req, res) => {
    res.json({ keys: (await loadSystem(systemIdOf(req))).keys.map(keyView) });
  });

  router.post(`${SYSTEM_PATH}/keys`, authenticate, selfOr('admin'), async (req, res) => {
    const id = systemIdOf(req);
    const key = await registry.addKey(actor(res), id, parseNewKey(req.body));
    created(res, `/v1/systems/${id}/keys/${key.kid}`, keyView(key));
  });

  router.delete(`${SYSTEM_PATH}/keys/:kid`, authenticate, selfOr('admin'), async (req, res) => {
    const caller = callerOf(res);
    const key = await registry.retireKey(caller.systemId, systemIdOf(req), String(req.params.kid), {
      // An admin may lock a system out (compromised key); a system rotating its own keys may not.
      allowLastKey: caller.roles.includes('admin'),
    });
    res.json(keyView(key));
  });

  return router;
}
