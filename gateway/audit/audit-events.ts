/**
 * What the audit log records. Every lookup outcome, every failed authentication or authorisation,
 * and every registry or policy change is one event. `AuditRecorder.record` resolves only once the
 * event is durable: callers release data after it (fail closed).
 */
import type { LookupOutcome, LookupPurpose, Requester } from '../access/lookup-terms.js';

export interface LookupAuditEvent {
  kind: 'lookup';
  lookupId: string;
  at: string;
  requester: Requester;
  purpose?: LookupPurpose;
  certificateType?: string;
  /**
   * The subject's identifiers, so a citizen's "who looked at my records" can be answered. The audit
   * log stores only keyed hashes (HMAC) of them, never the values.
   */
  subject?: Record<string, unknown>;
  provider?: string;
  outcome: LookupOutcome;
  status: number;
  problemType?: string;
  /** Why it was not granted, machine-readable: the policy's reason (e.g. `matter-not-allowed`) or the problem. */
  reason?: string;
  /** The policy rule that allowed (or refused) it. */
  policyId?: string;
  latencyMs: number;
  /** SHA-256 of the released record's canonical JSON. */
  recordDigest?: string;
  /** The department key that signed the reply (`<system id>#<key id>`): who vouched for the record. */
  providerKeyId?: string;
  /** The evidence bundle (POST /v1/matters/{code}/evidence) this lookup was one item of. */
  bundleId?: string;
}

export interface AccessRefusedAuditEvent {
  kind: 'access-refused';
  at: string;
  /** 409: a registry change refused (duplicate, last admin, last key, ...). */
  status: 401 | 403 | 409 | 429;
  problemType: string;
  reason: string;
  /** The verified caller (403, 429). */
  requester?: Requester;
  /** For 401: the `iss` the rejected token claimed. Unverified: anyone can write any name there. */
  claimedIssuer?: string;
  method: string;
  path: string;
  requestId?: string;
}

export interface ChangeAuditEvent {
  kind: 'registry-change' | 'policy-change';
  at: string;
  /** Who made the change (`<department>/<system>`), or `system` for the gateway itself (e.g. a reload). */
  actor: string;
  action: string;
  target: string;
  details?: Record<string, unknown>;
}

/**
 * What data officers do with the audit log itself: a subject report, a review sample drawn, a review
 * finding recorded, a signing key rotated, a console sign-in or sign-out. Logged in the same chain,
 * so oversight is overseen too.
 */
export interface AuditAccessAuditEvent {
  kind: 'audit-access';
  at: string;
  /** `<department>/<system>` of the caller, or `operator` for the command line. */
  actor: string;
  action:
    | 'subject-report'
    | 'review-sample-drawn'
    | 'review-finding-recorded'
    | 'review-summary-published'
    | 'signing-key-rotated'
    | 'console-sign-in'
    | 'console-sign-out';
  target?: string;
  /** For a subject report: the identifiers asked about (stored only as keyed hashes, like a lookup's). */
  subject?: Record<string, unknown>;
  details?: Record<string, unknown>;
}

/**
 * An approval system's subscription to changes of a record (POST /v1/subscriptions), opened or
 * cancelled. Refusals are `access-refused` events like any other 403.
 */
export interface SubscriptionAuditEvent {
  kind: 'subscription';
  at: string;
  action: 'created' | 'cancelled';
  subscriptionId: string;
  requester: Requester;
  purpose: LookupPurpose;
  certificateType: string;
  provider: string;
  /** Stored only as keyed hashes, like a lookup's. */
  subject?: Record<string, unknown>;
  /**
   * For a cancellation: the keyed hashes the subscription holds (its subject is kept no other way), so
   * a search by subject finds the cancellation as it finds the creation.
   */
  subjectHashes?: string[];
  endsAt: string;
  /** Who cancelled (the subscriber or an administrator); with `cancelled` only. */
  actor?: string;
}

/**
 * `released`: the notice is about to leave the gateway (recorded first: fail closed); then one of
 * `delivered`, `retrying` (the target failed; another attempt follows) or `dead-lettered` (given up).
 * `denied`: the policy in force at delivery no longer allows it; nothing was released.
 */
export const NOTICE_OUTCOMES = ['released', 'delivered', 'retrying', 'dead-lettered', 'denied'] as const;
export type NoticeOutcome = (typeof NOTICE_OUTCOMES)[number];

/**
 * One step of delivering a change notice to a subscriber (NOTICE_OUTCOMES). Fields released to a
 * subscriber are accounted for as lookups' records are.
 */
export interface NoticeAuditEvent {
  kind: 'change-notice';
  at: string;
  deliveryId: string;
  subscriptionId: string;
  changeId: string;
  change: string;
  requester: Requester;
  purpose: LookupPurpose;
  certificateType: string;
  provider: string;
  /** The identifiers the notice names; stored only as keyed hashes. */
  subject?: Record<string, unknown>;
  outcome: NoticeOutcome;
  channel: 'webhook' | 'stream';
  /** The webhook target's name (never its URL's query, which may hold a secret). */
  target?: string;
  attempt: number;
  /** Why it was not delivered: the policy's denial reason or what the target answered. */
  reason?: string;
  policyId?: string;
  /** The department key that signed the change event. */
  providerKeyId: string;
  /** SHA-256 of the released fields' canonical JSON (RFC 8785), when delivered. */
  fieldsDigest?: string;
}

export type AuditEvent =
  | LookupAuditEvent
  | AccessRefusedAuditEvent
  | ChangeAuditEvent
  | AuditAccessAuditEvent
  | SubscriptionAuditEvent
  | NoticeAuditEvent;

export interface AuditRecorder {
  record(event: AuditEvent): Promise<void>;
}
