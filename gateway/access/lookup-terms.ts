/**
 * The lookup pipeline's vocabulary, and the seam the policy capability fills (gateway/policy): who
 * may see which record, for which purpose, and which of its fields.
 */

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

export const LOOKUP_OUTCOMES = ['granted', 'denied', 'not-found', 'failed', 'timed-out', 'invalid'] as const;
export type LookupOutcome = (typeof LOOKUP_OUTCOMES)[number];
