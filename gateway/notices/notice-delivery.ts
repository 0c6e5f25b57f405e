/**
 * Delivers change notices, at least once: claims due deliveries from the database, checks the
 * subscriber's policy as it stands now, builds and signs the notice, records its release in the audit
 * log (fail closed: nothing leaves unrecorded), then POSTs it to the registered webhook target or
 * writes it to the subscriber's event stream. A webhook that fails is retried with exponential
 * backoff and jitter, and given up after `maxAttempts` (dead-lettered: the delivery stays in the
 * database with its last error). Every outcome is an audit event.
 */
import type { Requester } from '../access/lookup-terms.js';
import type { AuditRecorder, NoticeAuditEvent, NoticeOutcome } from '../audit/audit-events.js';
import type { SubjectHasher } from '../audit/subject-hash.js';
import { GatewayError } from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';
import { recordDigest } from '../lookups/lookup-service.js';
import type { PolicyEngine } from '../policy/policy-engine.js';
import {
  buildChangeNotice,
  type ChangeNotice,
  type SignedChangeNotice,
  subjectKnownTo,
} from './change-notice.js';
import type { ClaimedDelivery, NoticeStore } from './notice-store.js';
import type { NoticeStreams } from './notice-streams.js';

export interface NoticeRetrySettings {
  /** First retry after about this long; doubled per attempt (with ±20% jitter) up to `maxMs`. */
  baseMs: number;
  maxMs: number;
  /** Attempts before a webhook delivery is dead-lettered. */
  maxAttempts: number;
  /** How long one webhook call may take. */
  timeoutMs: number;
}

export const DEFAULT_NOTICE_RETRY: NoticeRetrySettings = {
  baseMs: 5000,
  maxMs: 30 * 60_000,
  maxAttempts: 12,
  timeoutMs: 10_000,
};

export interface NoticeDeliveryOptions {
  store: NoticeStore;
  policy: Pick<PolicyEngine, 'check'>;
  audit: AuditRecorder;
  hashSubject: SubjectHasher;
  sign: (notice: ChangeNotice) => Promise<string>;
  streams: NoticeStreams;
  logger: Logger;
  retry?: Partial<NoticeRetrySettings>;
  /** How often due deliveries are looked for when nothing wakes the worker. Default 1 s. */
  pollIntervalMs?: number;
  /** Deliveries attempted at once. Default 16. */
  concurrency?: number;
  /** Finished deliveries, and change events no delivery needs, are forgotten after this long. */
  retentionMs?: number;
  /** How often that is done. Default: hourly. */
  pruneIntervalMs?: number;
}

export interface NoticeDelivery {
  /** Looks for due deliveries now (a change was taken in, a stream connected). */
  wake(): void;
  stop(): Promise<void>;
}

/** Why an attempt failed, in words safe for the audit log (never the target's URL or answer body). */
class AttemptFailed extends Error {}

export function backoffMs(attempt: number, retry: NoticeRetrySettings, random = Math.random): number {
  const base = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export function startNoticeDelivery(options: NoticeDeliveryOptions): NoticeDelivery {
  const { store, policy, audit, hashSubject, sign, streams, logger } = options;
  const retry: NoticeRetrySettings = { ...DEFAULT_NOTICE_RETRY, ...options.retry };
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const concurrency = options.concurrency ?? 16;
  const retentionMs = options.retentionMs ?? 7 * 24 * 60 * 60_000;
  let running = true;
  const prune = async () => {
    try {
      const pruned = await store.prune(new Date(Date.now() - retentionMs));
      if (pruned.deliveries + pruned.changes > 0) logger.info(pruned, 'old change notices forgotten');
    } catch (error) {
      logger.warn({ err: error }, 'cannot prune old change notices; will try again');
    }
  };
  const pruning = setInterval(() => void prune(), options.pruneIntervalMs ?? 60 * 60_000);
  pruning.unref();
  void prune();
  let wakeUp: (() => void) | undefined;
  let woken = false;

  const record = (delivery: ClaimedDelivery, outcome: NoticeOutcome, extra: Partial<NoticeAuditEvent>) => {
    const { subscription, change } = delivery;
    return audit.record({
      kind: 'change-notice',
      at: new Date().toISOString(),
      deliveryId: delivery.id,
      subscriptionId: subscription.id,
      changeId: change.changeId,
      change: change.change,
      requester: subscription.requester,
      purpose: subscription.purpose,
      certificateType: change.certificateType,
      provider: change.department,
      outcome,
      channel: subscription.delivery.method,
      ...(subscription.delivery.method === 'webhook' ? { target: subscription.delivery.target } : {}),
      attempt: delivery.attempt,
      providerKeyId: delivery.providerKeyId,
      ...extra,
    });
  };

  async function post(url: string, body: SignedChangeNotice, attempt: number): Promise<void> {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'silobridge-notice-id': body.noticeId,
          'silobridge-delivery-attempt': String(attempt),
        },
        body: JSON.stringify(body),
        // A registered target answers itself: a redirect could lead anywhere.
        redirect: 'manual',
        signal: AbortSignal.timeout(retry.timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const name = (error as Error).name;
      throw new AttemptFailed(
        name === 'TimeoutError'
          ? `no answer within ${retry.timeoutMs} ms`
          : `cannot connect (${cause?.code ?? cause?.message ?? (error as Error).message})`,
      );
    }
    await response.body?.cancel().catch(() => {});
    if (response.status < 200 || response.status > 299) {
      throw new AttemptFailed(`the target answered HTTP ${response.status}`);
    }
  }

  async function attempt(delivery: ClaimedDelivery): Promise<void> {
    const { subscription, change } = delivery;
    if (subscription.cancelledAt !== null || Date.parse(subscription.endsAt) <= Date.now()) {
      await store.finish(delivery.id, 'cancelled');
      return;
    }
    let decision: Awaited<ReturnType<PolicyEngine['check']>>;
    try {
      decision = await policy.check(subscription.requester as Requester, {
        certificateType: change.certificateType,
        subject: change.subject,
        purpose: subscription.purpose,
        ...(subscription.fields ? { fields: subscription.fields } : {}),
      });
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      const reason = typeof error.extensions.reason === 'string' ? error.extensions.reason : error.problem;
      const subject = subjectKnownTo(change.subject, subscription.subjectHashes, hashSubject);
      await record(delivery, 'denied', { reason, subject });
      await store.finish(delivery.id, 'denied', reason);
      return;
    }
    const notice = buildChangeNotice(delivery, decision, hashSubject);
    const signed: SignedChangeNotice = { ...notice, signature: await sign(notice) };
    const released = {
      subject: notice.subject,
      ...(decision.policyId ? { policyId: decision.policyId } : {}),
    };
    if (subscription.delivery.method === 'stream') {
      if (!streams.systems().includes(subscription.systemId)) {
        // The client went between the claim and now: due again as soon as it is back.
        await store.retryAt(delivery.id, new Date(), 'no stream open');
        return;
      }
      await record(delivery, 'released', { ...released, fieldsDigest: recordDigest(notice.fields) });
      if (!streams.send(subscription.systemId, delivery.id, signed)) {
        await store.retryAt(delivery.id, new Date(), 'no stream open');
        return;
      }
      await store.finish(delivery.id, 'delivered');
      await record(delivery, 'delivered', released);
      return;
    }
    if (!delivery.url) {
      const reason = `webhook target '${subscription.delivery.target}' is no longer registered`;
      await record(delivery, 'dead-lettered', { ...released, reason });
      await store.finish(delivery.id, 'dead-lettered', reason);
      return;
    }
    // Fail closed: the release is on record before anything leaves.
    await record(delivery, 'released', { ...released, fieldsDigest: recordDigest(notice.fields) });
    try {
      await post(delivery.url, signed, delivery.attempt);
    } catch (error) {
      if (!(error instanceof AttemptFailed)) throw error;
      const reason = error.message;
      if (delivery.attempt >= retry.maxAttempts) {
        await record(delivery, 'dead-lettered', { ...released, reason });
        await store.finish(delivery.id, 'dead-lettered', reason);
        logger.warn(
          { deliveryId: delivery.id, subscriptionId: subscription.id, attempts: delivery.attempt, reason },
          'change notice dead-lettered: the webhook target kept failing',
        );
      } else {
        const waitMs = backoffMs(delivery.attempt, retry);
        await record(delivery, 'retrying', { ...released, reason });
        await store.retryAt(delivery.id, new Date(Date.now() + waitMs), reason);
      }
      return;
    }
    await store.finish(delivery.id, 'delivered');
    await record(delivery, 'delivered', released);
  }

  async function runOnce(): Promise<number> {
    const claimed = await store.claimDue({
      limit: concurrency,
      // Longer than an attempt can take: another instance takes it over only if this one died.
      leaseMs: retry.timeoutMs + 30_000,
      streamSystems: streams.systems(),
    });
    await Promise.all(
      claimed.map((delivery) =>
        attempt(delivery).catch((error: unknown) => {
          // The database or the audit log failed: the lease runs out and the delivery is due again.
          logger.error({ err: error, deliveryId: delivery.id }, 'change notice attempt failed; will retry');
        }),
      ),
    );
    return claimed.length;
  }

  const loop = (async () => {
    while (running) {
      let claimed = 0;
      try {
        claimed = await runOnce();
      } catch (error) {
        logger.error({ err: error }, 'cannot claim change notices; retrying');
      }
      if (claimed > 0 || !running) continue;
      if (woken) {
        woken = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollIntervalMs);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeUp = undefined;
    }
  })();

  return {
    wake() {
      woken = true;
      wakeUp?.();
    },
    async stop() {
      running = false;
      clearInterval(pruning);
      wakeUp?.();
      await loop;
    },
  };
}
