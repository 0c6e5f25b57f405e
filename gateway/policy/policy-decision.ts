/**
 * One lookup against the policy set: default deny. The checks run from the coarsest to the finest, so
 * a denial names the first thing missing: is the requester named in any policy, may it see this
 * certificate type, for this matter, is that grant in force now, are the asked-for fields granted,
 * and is the requester within its rate. Then: allow, with the granted fields and the masks.
 */

import type { LookupRequest, PolicyDecision, Requester } from '../access/lookup-terms.js';
import { ForbiddenError, TooManyRequestsError } from '../foundation/errors.js';
import type { CompiledGrant, PolicySet } from './policy-types.js';
import type { RateLimiter } from './rate-limiter.js';

export const DENIAL_REASONS = [
  'purpose-missing',
  'unknown-requester',
  'type-not-allowed',
  'matter-not-allowed',
  'policy-not-yet-valid',
  'policy-expired',
  'field-not-allowed',
  'rate-limited',
] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

export function appliesTo(grant: CompiledGrant, requester: Requester): boolean {
  if (grant.department !== requester.department) return false;
  return !grant.systems || (requester.system !== undefined && grant.systems.has(requester.system));
}

const deny = (reason: DenialReason, detail: string, extensions: Record<string, unknown> = {}) =>
  new ForbiddenError(detail, reason, extensions);

const who = (requester: Requester) => requester.system ?? `department '${requester.department}'`;

export async function decide(
  set: PolicySet,
  limiter: RateLimiter,
  requester: Requester,
  request: LookupRequest,
  now: number,
): Promise<PolicyDecision> {
  const { certificateType, purpose } = request;
  if (!purpose?.matter || !purpose.caseRef || !purpose.officer) {
    throw deny('purpose-missing', 'Every lookup states its purpose: matter, case reference and officer.');
  }
  const mine = set.grants.filter((grant) => appliesTo(grant, requester));
  if (mine.length === 0) {
    throw deny('unknown-requester', `No policy grants ${who(requester)} any lookup.`);
  }
  const forType = mine.filter((grant) => grant.document.certificateType === certificateType);
  if (forType.length === 0) {
    throw deny('type-not-allowed', `${who(requester)} may not look up ${certificateType} records.`, {
      certificateType,
    });
  }
  const forMatter = forType.filter((grant) => grant.matters.has(purpose.matter));
  if (forMatter.length === 0) {
    throw deny(
      'matter-not-allowed',
      `${who(requester)} may look up ${certificateType} records only for the matters its policy lists, not '${purpose.matter}'.`,
      { certificateType, matter: purpose.matter },
    );
  }
  const grant = forMatter.find((candidate) => candidate.from <= now && now < candidate.until);
  if (!grant) {
    const pending = forMatter.find((candidate) => now < candidate.from);
    if (pending) {
      throw deny(
        'policy-not-yet-valid',
        `Policy rule '${pending.ruleId}' is in force from ${new Date(pending.from).toISOString()}.`,
        {
          policyId: pending.ruleId,
          validFrom: new Date(pending.from).toISOString(),
        },
      );
    }
    const expired = forMatter.reduce((latest, candidate) =>
      candidate.until > latest.until ? candidate : latest,
    );
    throw deny(
      'policy-expired',
      `Policy rule '${expired.ruleId}' expired at ${new Date(expired.until).toISOString()}.`,
      {
        policyId: expired.ruleId,
        validUntil: new Date(expired.until).toISOString(),
      },
    );
  }
  const refused = (request.fields ?? []).filter((field) => !grant.fieldSet.has(field));
  if (refused.length > 0) {
    throw deny(
      'field-not-allowed',
      `Policy rule '${grant.ruleId}' does not allow field(s) ${refused.join(', ')} of ${certificateType}.`,
      { policyId: grant.ruleId, fields: refused },
    );
  }
  const { rateLimit } = grant.policy.document;
  const rate = await limiter.take(
    { policyId: grant.policy.document.id, requester: requester.system ?? requester.department },
    rateLimit,
  );
  if (!rate.allowed) {
    throw new TooManyRequestsError(
      `${who(requester)} is over its rate of ${rateLimit.requestsPerMinute} lookups per minute (policy '${grant.policy.document.id}').`,
      rate.retryAfterSeconds,
      { policyId: grant.ruleId },
    );
  }
  return { fields: [...grant.fields], ...(grant.mask ? { mask: grant.mask } : {}), policyId: grant.ruleId };
}
