/**
 * The change-notice tables (migration 100_change_notices.sql): webhook targets, subscriptions, the
 * change events taken in, and one delivery per (subscription, change). Deliveries are claimed with
 * `FOR UPDATE SKIP LOCKED` and a lease, so several gateway instances share the work and a notice
 * claimed by an instance that died is taken up again when its lease runs out.
 */
import type { Requester } from '../access/lookup-terms.js';
import type { RecordChangeEnvelope } from '../protocol/envelopes.js';
import type { Database, Queryable } from '../storage/database.js';
import type { Delivery } from './subscription-request.js';

export interface WebhookTarget {
  systemId: string;
  name: string;
  url: string;
  createdAt: string;
  createdBy: string;
}

export interface Subscription {
  id: string;
  systemId: string;
  requester: Requester;
  certificateType: string;
  provider: string;
  subjectHashes: string[];
  purpose: { matter: string; caseRef: string; officer: string };
  fields: string[] | null;
  delivery: Delivery;
  createdAt: string;
  endsAt: string;
  cancelledAt: string | null;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead-lettered' | 'denied' | 'cancelled';

/** A delivery claimed for an attempt, with what it needs to build the notice. */
export interface ClaimedDelivery {
  id: string;
  attempt: number;
  subscription: Subscription;
  change: RecordChangeEnvelope;
  providerKeyId: string;
  /** The target's URL, for webhook deliveries. */
  url: string | null;
}

const SUBSCRIPTION_COLUMNS = `s.id, s.system_id, s.requester_department, s.certificate_type, s.provider,
  s.subject_hashes, s.matter, s.case_ref, s.officer, s.fields, s.delivery, s.webhook_target,
  s.created_at, s.ends_at, s.cancelled_at`;

interface SubscriptionRow {
  id: string;
  system_id: string;
  requester_department: string;
  certificate_type: string;
  provider: string;
  subject_hashes: string[];
  matter: string;
  case_ref: string;
  officer: string;
  fields: string[] | null;
  delivery: 'webhook' | 'stream';
  webhook_target: string | null;
  created_at: Date | string;
  ends_at: Date | string;
  cancelled_at: Date | string | null;
}

const iso = (value: Date | string) => new Date(value).toISOString();

function toSubscription(row: SubscriptionRow): Subscription {
  return {
    id: row.id,
    systemId: row.system_id,
    requester: { department: row.requester_department, system: row.system_id },
    certificateType: row.certificate_type,
    provider: row.provider,
    subjectHashes: row.subject_hashes,
    purpose: { matter: row.matter, caseRef: row.case_ref, officer: row.officer },
    fields: row.fields,
    delivery:
      row.delivery === 'webhook'
        ? { method: 'webhook', target: row.webhook_target as string }
        : { method: 'stream' },
    createdAt: iso(row.created_at),
    endsAt: iso(row.ends_at),
    cancelledAt: row.cancelled_at === null ? null : iso(row.cancelled_at),
  };
}

export interface NoticeStore {
  // Webhook targets
  listTargets(systemId: string): Promise<WebhookTarget[]>;
  getTarget(systemId: string, name: string): Promise<WebhookTarget | undefined>;
  /** Creates or replaces; resolves true when it was created. */
  putTarget(target: Omit<WebhookTarget, 'createdAt'>): Promise<boolean>;
  /** Open subscriptions that deliver to the target. */
  subscriptionsUsing(systemId: string, name: string): Promise<number>;
  removeTarget(systemId: string, name: string): Promise<boolean>;

  // Subscriptions
  createSubscription(subscription: Omit<Subscription, 'createdAt' | 'cancelledAt'>): Promise<Subscription>;
  getSubscription(id: string): Promise<Subscription | undefined>;
  listSubscriptions(systemId: string, includeClosed: boolean): Promise<Subscription[]>;
  /** Ends it now and cancels its pending deliveries; resolves with it, or undefined if not open. */
  cancelSubscription(id: string): Promise<Subscription | undefined>;

  // Change events and deliveries
  /**
   * Stores the change once and one pending delivery for every open subscription of the same
   * certificate type and provider that named any of the subject's identifiers; a change taken in
   * twice (Kafka's at-least-once) adds nothing. Resolves with the number of deliveries added.
   */
  takeInChange(change: RecordChangeEnvelope, subjectHashes: string[], providerKeyId: string): Promise<number>;
  /**
   * Claims up to `limit` due deliveries for an attempt: webhook ones, and stream ones of the systems
   * in `streamSystems` (connected to this instance). Each is leased for `leaseMs`.
   */
  claimDue(options: { limit: number; leaseMs: number; streamSystems: string[] }): Promise<ClaimedDelivery[]>;
  finish(id: string, state: Exclude<DeliveryState, 'pending'>, error?: string): Promise<void>;
  retryAt(id: string, at: Date, error: string): Promise<void>;
  /** Stream notices after `afterId` that were delivered to `systemId`: due again (a client's Last-Event-ID). */
  redeliverStreamAfter(systemId: string, afterId: string): Promise<number>;
  countByState(subscriptionId: string): Promise<Record<DeliveryState, number>>;
  /**
   * Forgets deliveries finished before `before`, and the change events no delivery needs any more
   * (they name the subject in clear; the audit log keeps what happened). Resolves with what went.
   */
  prune(before: Date): Promise<{ deliveries: number; changes: number }>;
}

export function createNoticeStore(db: Database): NoticeStore {
  const query = <Row>(sql: string, params: unknown[] = [], on: Queryable = db) =>
    on.query<Row>(sql, params).then((result) => result.rows);

  return {
    async listTargets(systemId) {
      const rows = await query<{
        system_id: string;
        name: string;
        url: string;
        created_at: Date;
        created_by: string;
      }>('SELECT * FROM webhook_targets WHERE system_id = $1 ORDER BY name', [systemId]);
      return rows.map((row) => ({
        systemId: row.system_id,
        name: row.name,
        url: row.url,
        createdAt: iso(row.created_at),
        createdBy: row.created_by,
      }));
    },
    async getTarget(systemId, name) {
      return (await this.listTargets(systemId)).find((target) => target.name === name);
    },
    async putTarget(target) {
      const [row] = await query<{ created: boolean }>(
        `INSERT INTO webhook_targets (system_id, name, url, created_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (system_id, name) DO UPDATE SET url = EXCLUDED.url, created_by = EXCLUDED.created_by,
           created_at = now()
         RETURNING (xmax = 0) AS created`,
        [target.systemId, target.name, target.url, target.createdBy],
      );
      return row?.created === true;
    },
    async subscriptionsUsing(systemId, name) {
      const [row] = await query<{ count: string }>(
        `SELECT count(*) AS count FROM change_subscriptions
         WHERE system_id = $1 AND webhook_target = $2 AND cancelled_at IS NULL AND ends_at > now()`,
        [systemId, name],
      );
      return Number(row?.count ?? 0);
    },
    async removeTarget(systemId, name) {
      const removed = await db.query('DELETE FROM webhook_targets WHERE system_id = $1 AND name = $2', [
        systemId,
        name,
      ]);
      return removed.rowCount > 0;
    },

    async createSubscription(subscription) {
      const [row] = await query<SubscriptionRow>(
        `INSERT INTO change_subscriptions AS s (id, system_id, requester_department, certificate_type,
           provider, subject_hashes, matter, case_ref, officer, fields, delivery, webhook_target, ends_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         RETURNING ${SUBSCRIPTION_COLUMNS}`,
        [
          subscription.id,
          subscription.systemId,
          subscription.requester.department,
          subscription.certificateType,
          subscription.provider,
          subscription.subjectHashes,
          subscription.purpose.matter,
          subscription.purpose.caseRef,
          subscription.purpose.officer,
          subscription.fields,
          subscription.delivery.method,
          subscription.delivery.method === 'webhook' ? subscription.delivery.target : null,
          subscription.endsAt,
        ],
      );
      return toSubscription(row as SubscriptionRow);
    },
    async getSubscription(id) {
      const [row] = await query<SubscriptionRow>(
        `SELECT ${SUBSCRIPTION_COLUMNS} FROM change_subscriptions s WHERE s.id = $1`,
        [id],
      );
      return row ? toSubscription(row) : undefined;
    },
    async listSubscriptions(systemId, includeClosed) {
      const rows = await query<SubscriptionRow>(
        `SELECT ${SUBSCRIPTION_COLUMNS} FROM change_subscriptions s WHERE s.system_id = $1
           AND ($2 OR (s.cancelled_at IS NULL AND s.ends_at > now()))
         ORDER BY s.created_at DESC, s.id LIMIT 1000`,
        [systemId, includeClosed],
      );
      return rows.map(toSubscription);
    },
    async cancelSubscription(id) {
      return db.transaction(async (tx) => {
        const [row] = await query<SubscriptionRow>(
          `UPDATE change_subscriptions s SET cancelled_at = now()
           WHERE s.id = $1 AND s.cancelled_at IS NULL AND s.ends_at > now()
           RETURNING ${SUBSCRIPTION_COLUMNS}`,
          [id],
          tx,
        );
        if (!row) return undefined;
        await tx.query(
          `UPDATE notice_deliveries SET state = 'cancelled', finished_at = now()
           WHERE subscription_id = $1 AND state = 'pending'`,
          [id],
        );
        return toSubscription(row);
      });
    },

    async takeInChange(change, subjectHashes, providerKeyId) {
      return db.transaction(async (tx) => {
        // An event nobody subscribed to is not kept: it names a citizen or company in clear.
        const matching = await tx.query(
          `SELECT 1 FROM change_subscriptions s
           WHERE s.certificate_type = $1 AND s.provider = $2 AND s.subject_hashes && $3::text[]
             AND s.cancelled_at IS NULL AND s.ends_at > now() LIMIT 1`,
          [change.certificateType, change.department, subjectHashes],
        );
        if (matching.rows.length === 0) return 0;
        await tx.query(
          `INSERT INTO record_changes (change_id, department, certificate_type, event, provider_key_id)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (change_id) DO NOTHING`,
          [change.changeId, change.department, change.certificateType, change, providerKeyId],
        );
        const added = await tx.query(
          `INSERT INTO notice_deliveries (subscription_id, change_id)
           SELECT s.id, $1 FROM change_subscriptions s
           WHERE s.certificate_type = $2 AND s.provider = $3 AND s.subject_hashes && $4::text[]
             AND s.cancelled_at IS NULL AND s.ends_at > now()
           ON CONFLICT (subscription_id, change_id) DO NOTHING`,
          [change.changeId, change.certificateType, change.department, subjectHashes],
        );
        return added.rowCount;
      });
    },
    async claimDue({ limit, leaseMs, streamSystems }) {
      const rows = await query<
        SubscriptionRow & {
          delivery_id: string;
          attempts: number;
          event: RecordChangeEnvelope;
          provider_key_id: string;
          url: string | null;
        }
      >(
        `WITH due AS (
           SELECT d.id FROM notice_deliveries d JOIN change_subscriptions s ON s.id = d.subscription_id
           WHERE d.state = 'pending' AND d.next_attempt_at <= now()
             AND (s.delivery = 'webhook' OR s.system_id = ANY($3::text[]))
           ORDER BY d.id LIMIT $1 FOR UPDATE OF d SKIP LOCKED),
         claimed AS (
           UPDATE notice_deliveries d SET attempts = d.attempts + 1,
             next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
           FROM due WHERE d.id = due.id
           RETURNING d.id, d.subscription_id, d.change_id, d.attempts)
         SELECT claimed.id AS delivery_id, claimed.attempts, c.event, c.provider_key_id, t.url,
           ${SUBSCRIPTION_COLUMNS}
         FROM claimed
         JOIN change_subscriptions s ON s.id = claimed.subscription_id
         JOIN record_changes c ON c.change_id = claimed.change_id
         LEFT JOIN webhook_targets t ON t.system_id = s.system_id AND t.name = s.webhook_target
         ORDER BY claimed.id`,
        [limit, leaseMs, streamSystems],
      );
      return rows.map((row) => ({
        id: String(row.delivery_id),
        attempt: row.attempts,
        subscription: toSubscription(row),
        change: row.event,
        providerKeyId: row.provider_key_id,
        url: row.url,
      }));
    },
    async finish(id, state, error) {
      await query(
        `UPDATE notice_deliveries SET state = $2, finished_at = now(), last_error = $3
         WHERE id = $1 AND state = 'pending'`,
        [id, state, error ?? null],
      );
    },
    async retryAt(id, at, error) {
      await query(
        `UPDATE notice_deliveries SET next_attempt_at = $2, last_error = $3 WHERE id = $1 AND state = 'pending'`,
        [id, at.toISOString(), error],
      );
    },
    async redeliverStreamAfter(systemId, afterId) {
      const result = await db.query(
        `UPDATE notice_deliveries d SET state = 'pending', next_attempt_at = now(), finished_at = NULL
         FROM change_subscriptions s
         WHERE d.subscription_id = s.id AND s.system_id = $1 AND s.delivery = 'stream'
           AND d.id > $2 AND d.state = 'delivered' AND s.cancelled_at IS NULL AND s.ends_at > now()`,
        [systemId, afterId],
      );
      return result.rowCount;
    },
    async prune(before) {
      return db.transaction(async (tx) => {
        const deliveries = await tx.query(
          "DELETE FROM notice_deliveries WHERE state <> 'pending' AND finished_at < $1",
          [before.toISOString()],
        );
        const changes = await tx.query(
          `DELETE FROM record_changes c WHERE c.received_at < $1
             AND NOT EXISTS (SELECT 1 FROM notice_deliveries d WHERE d.change_id = c.change_id)`,
          [before.toISOString()],
        );
        return { deliveries: deliveries.rowCount, changes: changes.rowCount };
      });
    },
    async countByState(subscriptionId) {
      const rows = await query<{ state: DeliveryState; count: string }>(
        'SELECT state, count(*) AS count FROM notice_deliveries WHERE subscription_id = $1 GROUP BY state',
        [subscriptionId],
      );
      const counts: Record<DeliveryState, number> = {
        pending: 0,
        delivered: 0,
        'dead-lettered': 0,
        denied: 0,
        cancelled: 0,
      };
      for (const row of rows) counts[row.state] = Number(row.count);
      return counts;
    },
  };
}
