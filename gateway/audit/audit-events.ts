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

export type AuditEvent =
  | LookupAuditEvent
  | AccessRefusedAuditEvent
  | ChangeAuditEvent
  | AuditAccessAuditEvent;

export interface AuditRecorder {
  record(event: AuditEvent): Promise<void>;
}
