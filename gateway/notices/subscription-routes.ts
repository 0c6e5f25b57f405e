/**
 * Change subscriptions for approval systems (role `lookup`; docs/notices.md):
 *
 *   POST   /v1/subscriptions                 subscribe to changes of one record for an open case
 *   GET    /v1/subscriptions[?state=all]     the calling system's subscriptions (open ones by default)
 *   GET    /v1/subscriptions/notices         the calling system's notices as Server-Sent Events
 *   GET    /v1/subscriptions/{id}            one, with its deliveries counted (owner, audit, admin)
 *   DELETE /v1/subscriptions/{id}            the case closed: no more notices (owner, admin)
 */
import { type RequestHandler, Router } from 'express';
import { callerOf, requireRole } from '../access/caller.js';
import { BadRequestError } from '../foundation/errors.js';
import type { NoticeStreams } from './notice-streams.js';
import { type SubscriptionService, subscriptionView } from './subscription-service.js';

const LAST_EVENT_ID = /^[0-9]{1,18}$/;

export interface SubscriptionRouterOptions {
  subscriptions: SubscriptionService;
  streams: NoticeStreams;
  /** A stream connected: deliver its due notices now. */
  onStream: () => void;
  authenticate: RequestHandler;
}

export function createSubscriptionRouter(options: SubscriptionRouterOptions): Router {
  const { subscriptions, streams, authenticate } = options;
  const router = Router();

  router.post('/v1/subscriptions', authenticate, requireRole('lookup'), async (req, res) => {
    const subscription = await subscriptions.subscribe(callerOf(res), req.body);
    res.status(201).location(`/v1/subscriptions/${subscription.id}`).json(subscriptionView(subscription));
  });

  router.get('/v1/subscriptions', authenticate, requireRole('lookup'), async (req, res) => {
    const state = req.query.state ?? 'open';
    if (state !== 'open' && state !== 'all') {
      throw new BadRequestError("The query parameter 'state' is 'open' (default) or 'all'.", [
        { pointer: '/state', reason: "must be 'open' or 'all'" },
      ]);
    }
    const list = await subscriptions.list(callerOf(res), state === 'all');
    res.json({ subscriptions: list.map(subscriptionView) });
  });

  router.get('/v1/subscriptions/notices', authenticate, requireRole('lookup'), async (req, res) => {
    const { systemId } = callerOf(res);
    const last = req.get('last-event-id')?.trim();
    if (last !== undefined) {
      if (!LAST_EVENT_ID.test(last)) {
        throw new BadRequestError('Last-Event-ID must be the id of a notice this stream sent (digits).', [
          { pointer: '/headers/last-event-id', reason: 'must be digits' },
        ]);
      }
      await subscriptions.resumeStream(systemId, last);
    }
    streams.open(systemId, res);
    options.onStream();
  });

  router.get('/v1/subscriptions/:id', authenticate, async (req, res) => {
    const found = await subscriptions.get(callerOf(res), String(req.params.id));
    res.json({ ...subscriptionView(found), deliveries: found.deliveries });
  });

  router.delete('/v1/subscriptions/:id', authenticate, async (req, res) => {
    await subscriptions.cancel(callerOf(res), String(req.params.id));
    res.status(204).end();
  });

  return router;
}
