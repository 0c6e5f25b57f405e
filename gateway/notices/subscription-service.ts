/**
 * What approval systems and administrators do with change notices, behind the routes: subscribe (a
 * subscription is allowed exactly when the lookup it names would be: same catalog checks, same policy,
 * spending the rate as a lookup does), list, look at, cancel; and the webhook targets notices may go to. Every
 * subscription opened or cancelled and every target change is in the audit log.
 */
import { randomUUID } from 'node:crypto';
import { type Caller, hasAnyRole, type Role, requesterOf } from '../access/caller.js';
import type { AuditRecorder } from '../audit/audit-events.js';
import type { SubjectHasher } from '../audit/subject-hash.js';
import { BadRequestError, ConflictError, NotFoundError } from '../foundation/errors.js';
import { checkAgainstCatalog, type RequestCatalog } from '../lookups/lookup-request.js';
import type { PolicyEngine } from '../policy/policy-engine.js';
import type { Registry } from '../registry/registry.js';
import type { DeliveryState, NoticeStore, Subscription, WebhookTarget } from './notice-store.js';
import { parseSubscriptionRequest } from './subscription-request.js';
import { parseWebhookTargetUrl, redactedUrl } from './webhook-target-url.js';

export type { Subscription, WebhookTarget } from './notice-store.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function subscriptionState(
  subscription: Subscription,
  now = Date.now(),
): 'open' | 'cancelled' | 'ended' {
  if (subscription.cancelledAt !== null) return 'cancelled';
  return Date.parse(subscription.endsAt) <= now ? 'ended' : 'open';
}

/** What callers see of a subscription: never the subject's hashes. */
export function subscriptionView(subscription: Subscription) {
  const { subjectHashes: _hashes, systemId: _systemId, ...shown } = subscription;
  return { ...shown, state: subscriptionState(subscription) };
}

export interface SubscriptionService {
  subscribe(caller: Caller, body: unknown): Promise<Subscription>;
  list(caller: Caller, includeClosed: boolean): Promise<Subscription[]>;
  /** The subscription with its deliveries counted: its owner's, or any for `audit` and `admin`. */
  get(caller: Caller, id: string): Promise<Subscription & { deliveries: Record<DeliveryState, number> }>;
  /** Its owner or an admin ends it; its pending notices are not delivered. */
  cancel(caller: Caller, id: string): Promise<void>;
  /** A client reconnecting to its stream with `Last-Event-ID`: every stream notice after it is due again. */
  resumeStream(systemId: string, lastEventId: string): Promise<void>;

  listTargets(systemId: string): Promise<WebhookTarget[]>;
  putTarget(
    actor: string,
    systemId: string,
    name: string,
    body: unknown,
  ): Promise<{ target: WebhookTarget; created: boolean }>;
  removeTarget(actor: string, systemId: string, name: string): Promise<void>;
}

export function createSubscriptionService(options: {
  store: NoticeStore;
  catalog: RequestCatalog;
  policy: Pick<PolicyEngine, 'authorize'>;
  registry: Pick<Registry, 'getSystem'>;
  audit: AuditRecorder;
  hashSubject: SubjectHasher;
}): SubscriptionService {
  const { store, catalog, policy, registry, audit, hashSubject } = options;

  /** The subscription, if it exists and the caller may see it (its owner, or one of `roles`). */
  const load = async (caller: Caller, id: string, roles: Role[]) => {
    const found = UUID.test(id) ? await store.getSubscription(id) : undefined;
    // Another system's subscription is as if it did not exist: ids are not to be probed.
    if (!found || (found.systemId !== caller.systemId && !hasAnyRole(caller, roles))) {
      throw new NotFoundError(`There is no subscription '${id.slice(0, 64)}'.`, 'subscription-not-found');
    }
    return found;
  };
  const existingSystem = async (id: string) => {
    if (!(await registry.getSystem(id))) {
      throw new NotFoundError(`No system '${id}' is registered.`, 'system-not-found');
    }
  };

  return {
    async subscribe(caller, body) {
      const requester = requesterOf(caller);
      const request = parseSubscriptionRequest(body);
      const { provider } = checkAgainstCatalog(catalog, request);
      // A 403 naming the reason (or 429), recorded as a refusal like any other. Subscribing spends the
      // rate as a lookup does: a system cannot open subscriptions faster than it may look records up.
      await policy.authorize(requester, request, provider);
      const { delivery } = request;
      if (delivery.method === 'webhook' && !(await store.getTarget(caller.systemId, delivery.target))) {
        throw new BadRequestError(
          `System '${caller.systemId}' has no webhook target '${delivery.target}': an administrator registers targets (PUT /v1/systems/${caller.systemId}/webhook-targets/${delivery.target}).`,
          [
            {
              pointer: '/delivery/target',
              reason: 'is not a registered webhook target of the calling system',
            },
          ],
          'webhook-target-not-registered',
        );
      }
      const subscription = await store.createSubscription({
        id: randomUUID(),
        systemId: caller.systemId,
        requester,
        certificateType: request.certificateType,
        provider,
        subjectHashes: hashSubject(request.subject),
        purpose: request.purpose,
        fields: request.fields ?? null,
        delivery,
        endsAt: new Date(request.endsAt).toISOString(),
      });
      await audit.record({
        kind: 'subscription',
        at: new Date().toISOString(),
        action: 'created',
        subscriptionId: subscription.id,
        requester,
        purpose: subscription.purpose,
        certificateType: subscription.certificateType,
        provider,
        subject: request.subject,
        endsAt: subscription.endsAt,
      });
      return subscription;
    },

    list: (caller, includeClosed) => store.listSubscriptions(caller.systemId, includeClosed),

    async get(caller, id) {
      const found = await load(caller, id, ['admin', 'audit']);
      return { ...found, deliveries: await store.countByState(found.id) };
    },

    async cancel(caller, id) {
      const found = await load(caller, id, ['admin']);
      const cancelled = await store.cancelSubscription(found.id);
      if (!cancelled) {
        throw new ConflictError(
          `Subscription '${found.id}' is already ${subscriptionState(found)}.`,
          'subscription-not-open',
        );
      }
      await audit.record({
        kind: 'subscription',
        at: new Date().toISOString(),
        action: 'cancelled',
        subscriptionId: cancelled.id,
        requester: cancelled.requester,
        purpose: cancelled.purpose,
        certificateType: cancelled.certificateType,
        provider: cancelled.provider,
        subjectHashes: cancelled.subjectHashes,
        endsAt: cancelled.endsAt,
        actor: caller.systemId,
      });
    },

    async resumeStream(systemId, lastEventId) {
      await store.redeliverStreamAfter(systemId, lastEventId);
    },

    async listTargets(systemId) {
      await existingSystem(systemId);
      return store.listTargets(systemId);
    },

    async putTarget(actor, systemId, name, body) {
      await existingSystem(systemId);
      const url = parseWebhookTargetUrl(body);
      const created = await store.putTarget({ systemId, name, url, createdBy: actor });
      await audit.record({
        kind: 'registry-change',
        at: new Date().toISOString(),
        actor,
        action: created ? 'webhook-target.created' : 'webhook-target.replaced',
        target: `${systemId}#${name}`,
        details: { url: redactedUrl(url) },
      });
      return { target: (await store.getTarget(systemId, name)) as WebhookTarget, created };
    },

    async removeTarget(actor, systemId, name) {
      await existingSystem(systemId);
      const using = await store.subscriptionsUsing(systemId, name);
      if (using > 0) {
        throw new ConflictError(
          `${using} open subscription(s) deliver to webhook target '${name}': they must end or be cancelled first.`,
          'webhook-target-in-use',
          { subscriptions: using },
        );
      }
      if (!(await store.removeTarget(systemId, name))) {
        throw new NotFoundError(
          `System '${systemId}' has no webhook target '${name}'.`,
          'webhook-target-not-found',
        );
      }
      await audit.record({
        kind: 'registry-change',
        at: new Date().toISOString(),
        actor,
        action: 'webhook-target.removed',
        target: `${systemId}#${name}`,
      });
    },
  };
}
