/**
 * What a requester may see, as a department team or a data officer reads it: every grant naming the
 * requester, with its matters, fields, masks, legal basis, validity and whether it is in force now.
 * For a department (no system), every grant of the department, each saying which systems it covers.
 */
import type { Requester } from '../access/lookup-terms.js';
import { describeMaskRule } from './masking.js';
import { appliesTo } from './policy-decision.js';
import { DEFAULT_TIME_ZONE } from './policy-semantics.js';
import type { CompiledGrant, PolicySet } from './policy-types.js';

export type GrantStatus = 'in-force' | 'not-yet-valid' | 'expired';

export interface EffectiveGrant {
  policyId: string;
  ruleId: string;
  policyTitle: string;
  certificateType: string;
  matters: Array<{ code: string; name: string }>;
  fields: string[];
  masked: Record<string, string>;
  legalBasis: string;
  /** Systems the grant covers; null = every system of the department. */
  systems: string[] | null;
  /** When the grant comes into force, in the policy's time zone. */
  validFrom: string;
  /** The first instant it is no longer in force (a date `2028-12-31` ends at `2029-01-01T00:00:00+08:00`). */
  validUntil: string | null;
  status: GrantStatus;
  rateLimit: { requestsPerMinute: number; burst: number };
  note?: string;
}

export interface EffectivePolicy {
  requester: Requester;
  evaluatedAt: string;
  policySet: { revision: string; loadedAt: string };
  grants: EffectiveGrant[];
}

/** An instant as RFC 3339 in the policy's own UTC offset, e.g. 2026-01-01T00:00:00+08:00. */
export function inTimeZone(ms: number, timeZone: string): string {
  const sign = timeZone.startsWith('-') ? -1 : 1;
  const [hours, minutes] = timeZone.slice(1).split(':').map(Number);
  const offsetMs = sign * ((hours ?? 0) * 60 + (minutes ?? 0)) * 60_000;
  return `${new Date(ms + offsetMs).toISOString().slice(0, 19)}${timeZone}`;
}

function statusAt(grant: CompiledGrant, now: number): GrantStatus {
  if (now < grant.from) return 'not-yet-valid';
  return now < grant.until ? 'in-force' : 'expired';
}

function view(grant: CompiledGrant, now: number): EffectiveGrant {
  const policy = grant.policy.document;
  const timeZone = policy.timeZone ?? DEFAULT_TIME_ZONE;
  return {
    policyId: policy.id,
    ruleId: grant.ruleId,
    policyTitle: policy.title,
    certificateType: grant.document.certificateType,
    matters: grant.document.matters.map(({ code, name }) => ({ code, name })),
    fields: [...grant.fields],
    masked: Object.fromEntries(
      Object.entries(grant.document.mask ?? {}).map(([field, rule]) => [field, describeMaskRule(rule)]),
    ),
    legalBasis: grant.document.legalBasis,
    systems: grant.systems ? [...grant.systems] : null,
    validFrom: inTimeZone(grant.from, timeZone),
    validUntil: Number.isFinite(grant.until) ? inTimeZone(grant.until, timeZone) : null,
    status: statusAt(grant, now),
    rateLimit: {
      requestsPerMinute: policy.rateLimit.requestsPerMinute,
      burst: policy.rateLimit.burst ?? policy.rateLimit.requestsPerMinute,
    },
    ...(grant.document.note ? { note: grant.document.note } : {}),
  };
}

export function effectivePolicy(set: PolicySet, requester: Requester, now: number): EffectivePolicy {
  const grants = set.grants.filter((grant) =>
    requester.system === undefined ? grant.department === requester.department : appliesTo(grant, requester),
  );
  return {
    requester,
    evaluatedAt: new Date(now).toISOString(),
    policySet: { revision: set.revision, loadedAt: set.loadedAt },
    grants: grants
      .map((grant) => view(grant, now))
      .sort((a, b) => a.certificateType.localeCompare(b.certificateType) || a.ruleId.localeCompare(b.ruleId)),
  };
}
