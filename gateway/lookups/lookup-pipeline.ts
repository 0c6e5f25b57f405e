/**
 * The seams of the lookup pipeline that other capabilities fill: who may see what (policy) and what
 * is recorded (audit). Until those capabilities land, the embedded demo runs with the defaults here:
 * allow everything, and write audit events to the structured log.
 */
import type { AuditEvent, AuditRecorder } from '../audit/audit-events.js';
import type { Logger } from '../logger.js';

export interface Requester {
  department: string;
  system?: string;
}

export interface LookupPurpose {
  /** The matter (administrative procedure) code the lookup serves, e.g. from the list of powers. */
  matter: string;
  caseRef: string;
  officer: string;
}

export interface LookupRequest {
  certificateType: string;
  subject: Record<string, unknown>;
  purpose: LookupPurpose;
  fields?: string[];
}

export interface PolicyDecision {
  /** Fields the requester may receive; undefined = all. */
  fields?: string[];
  /** Masks what the requester may see only partly (e.g. an ID number); applied after projection. */
  mask?: (record: Record<string, unknown>) => Record<string, unknown>;
  /** Which policy rule allowed this, for the audit log. */
  policyId?: string;
}

export interface LookupPolicy {
  /** Resolves with the projection to apply, or throws a ForbiddenError saying why not. */
  authorize(requester: Requester, request: LookupRequest, provider: string): Promise<PolicyDecision>;
}

export type LookupOutcome = 'granted' | 'denied' | 'not-found' | 'failed' | 'timed-out' | 'invalid';

export const allowAllPolicy: LookupPolicy = {
  authorize: async () => ({}),
};

/** Until the hash-chained audit log is wired, events go to the structured log (subject left out). */
export function createLogAuditRecorder(logger: Logger): AuditRecorder {
  return {
    record: async (event) => {
      const { subject: _subject, ...loggable } = event as AuditEvent & { subject?: unknown };
      logger.info({ audit: loggable }, 'audit event');
    },
  };
}
