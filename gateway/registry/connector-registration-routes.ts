/**
 * Connector onboarding over HTTP, and the departments' published keys.
 *
 *   POST   /v1/connectors                     connector (own department), admin: register
 *   GET    /v1/connectors                     connector, admin, audit: registrations and live instances
 *   GET    /v1/connectors/{department}        connector, admin, audit
 *   DELETE /v1/connectors/{department}        connector (own department), admin: new lookups get 503
 *   GET    /.well-known/department-jwks.json  anyone: the keys departments sign replies with
 */
import { type RequestHandler, Router } from 'express';
import { callerOf, requireRole } from '../access/caller.js';
import { DEPARTMENT_SIGNATURE_ALGORITHM, departmentKeyId } from '../protocol/department-signature.js';
import {
  type AnnouncedInstance,
  type ConnectorRegistrations,
  type ConnectorSetup,
  DEPARTMENT_KEYS_PATH,
} from './connector-registrations.js';
import type { Registry } from './registry.js';

export interface ConnectorRegistrationRouterOptions {
  registrations: ConnectorRegistrations;
  registry: Registry;
  /** Every instance heard from, with its liveness. */
  instances(): AnnouncedInstance[];
  authenticate: RequestHandler;
}

export function createConnectorRegistrationRouter(options: ConnectorRegistrationRouterOptions): Router {
  const { registrations, registry, authenticate } = options;
  const router = Router();
  const withInstances = (setup: ConnectorSetup, instances: AnnouncedInstance[]) => ({
    ...setup,
    instances: instances
      .filter((instance) => instance.department === setup.department)
      .map(({ department: _department, ...instance }) => instance),
  });

  router.post('/v1/connectors', authenticate, requireRole('connector', 'admin'), async (req, res) => {
    const setup = await registrations.register(callerOf(res), req.body);
    res.status(201).location(`/v1/connectors/${setup.id}`).json(withInstances(setup, options.instances()));
  });

  router.get(
    '/v1/connectors',
    authenticate,
    requireRole('connector', 'admin', 'audit'),
    async (_req, res) => {
      const setups = await registrations.list();
      const instances = options.instances();
      const registered = new Set(setups.map((setup) => setup.department));
      res.json({
        connectors: setups.map((setup) => withInstances(setup, instances)),
        // Heard from but not registered: their lookups are not routed (a missing registration step).
        unregisteredInstances: instances.filter((instance) => !registered.has(instance.department)),
      });
    },
  );

  router.get(
    '/v1/connectors/:department',
    authenticate,
    requireRole('connector', 'admin', 'audit'),
    async (req, res) => {
      res.json(withInstances(await registrations.get(String(req.params.department)), options.instances()));
    },
  );

  router.delete(
    '/v1/connectors/:department',
    authenticate,
    requireRole('connector', 'admin'),
    async (req, res) => {
      const removed = await registrations.remove(callerOf(res), String(req.params.department));
      res.json({ ...withInstances(removed, options.instances()), removed: true });
    },
  );

  router.get(DEPARTMENT_KEYS_PATH, async (_req, res) => {
    const systems = await registry.listSystems();
    const keys = systems
      .filter((system) => system.roles.includes('connector'))
      .flatMap((system) =>
        system.keys
          .filter((key) => key.alg === DEPARTMENT_SIGNATURE_ALGORITHM)
          .map((key) => ({
            ...key.jwk,
            kid: departmentKeyId(system.id, key.kid),
            department: system.department,
            // Retired keys stay published so that records signed before still verify offline.
            status: system.enabled ? key.status : 'disabled',
            ...(key.retiredAt ? { retiredAt: key.retiredAt } : {}),
          })),
      );
    res.set('Cache-Control', 'public, max-age=60').json({ keys });
  });

  return router;
}
