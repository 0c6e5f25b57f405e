/**
 * Where a system's change notices may be sent. Only an administrator registers a target, by name; a
 * subscription names the target, never a URL, so no caller can make the gateway call an address of
 * its choosing (server-side request forgery).
 *
 *   GET    /v1/systems/{dept}/{system}/webhook-targets          admin, audit, the system itself
 *   PUT    /v1/systems/{dept}/{system}/webhook-targets/{name}   admin ({ "url": ... }; creates or replaces)
 *   DELETE /v1/systems/{dept}/{system}/webhook-targets/{name}   admin (409 while an open subscription uses it)
 */
import { type RequestHandler, Router } from 'express';
import { callerOf, requireRole } from '../access/caller.js';
import { BadRequestError } from '../foundation/errors.js';
import { SYSTEM_PATH, selfOr, systemIdOf } from '../registry/registry-routes.js';
import { WEBHOOK_TARGET_NAME_PATTERN } from './subscription-request.js';
import type { SubscriptionService, WebhookTarget } from './subscription-service.js';
import { redactedUrl } from './webhook-target-url.js';

const NAME = new RegExp(WEBHOOK_TARGET_NAME_PATTERN);
const view = ({ systemId: _systemId, ...target }: WebhookTarget) => target;

function nameOf(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new BadRequestError(
      "A webhook target's name is lower-case letters, digits and '-', at most 63 characters.",
      [{ pointer: '/name', reason: `must match ${WEBHOOK_TARGET_NAME_PATTERN}` }],
    );
  }
  return name;
}

export function createWebhookTargetRouter(options: {
  subscriptions: SubscriptionService;
  authenticate: RequestHandler;
}): Router {
  const { subscriptions, authenticate } = options;
  const router = Router();
  const path = `${SYSTEM_PATH}/webhook-targets`;

  router.get(path, authenticate, selfOr('admin', 'audit'), async (req, res) => {
    const targets = (await subscriptions.listTargets(systemIdOf(req))).map(view);
    // A query may carry the receiver's secret: administrators (who set it) see it, nobody else.
    const shown = callerOf(res).roles.includes('admin')
      ? targets
      : targets.map((target) => ({ ...target, url: redactedUrl(target.url) }));
    res.json({ targets: shown });
  });

  router.put(`${path}/:name`, authenticate, requireRole('admin'), async (req, res) => {
    const systemId = systemIdOf(req);
    const name = nameOf(req.params.name);
    const { target, created } = await subscriptions.putTarget(
      callerOf(res).systemId,
      systemId,
      name,
      req.body,
    );
    res
      .status(created ? 201 : 200)
      .location(`/v1/systems/${systemId}/webhook-targets/${name}`)
      .json(view(target));
  });

  router.delete(`${path}/:name`, authenticate, requireRole('admin'), async (req, res) => {
    await subscriptions.removeTarget(callerOf(res).systemId, systemIdOf(req), nameOf(req.params.name));
    res.status(204).end();
  });

  return router;
}
