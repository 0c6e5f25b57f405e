/**
 * A matter as an approval system reads it (GET /v1/matters[/{code}]): what the matter needs, and for
 * each certificate type whether the caller's policy lets it fetch it for this matter now, with the
 * fields and masks it would get or the reason it would be denied, the same reasons a lookup is
 * denied with (gateway/policy/policy-decision.ts). The rate limit is not foretold.
 */
import type { Requester } from '../access/lookup-terms.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import type { EffectiveGrant, EffectivePolicy } from '../policy/effective-policy.js';
import { type Matter, PARTY_IDENTIFIERS, type Text } from './matter-catalogue.js';

export type EvidencePolicyView =
  | { allowed: true; policyId: string; fields: string[]; masked: Record<string, string> }
  | {
      allowed: false;
      reason:
        | 'unknown-requester'
        | 'type-not-allowed'
        | 'matter-not-allowed'
        | 'policy-not-yet-valid'
        | 'policy-expired';
    };

export interface MatterView {
  code: string;
  name: Text;
  party: Matter['party'];
  /** The identifiers `applicant` takes in POST /v1/matters/{code}/evidence. */
  applicantIdentifiers: string[];
  legalBasis: string;
  description?: string;
  /** Whether the caller's policy allows at least one certificate type of every required item now. */
  requiredEvidenceAllowed: boolean;
  evidence: Array<{
    id: string;
    name: Text;
    required: boolean;
    otherwise?: Text;
    certificateTypes: Array<{
      certificateType: string;
      title: Text;
      provider: string;
      /** The applicant identifiers its lookup subject is made of. */
      subject: string[];
      policy: EvidencePolicyView;
    }>;
  }>;
}

export function policyFor(
  effective: EffectivePolicy,
  certificateType: string,
  matter: string,
): EvidencePolicyView {
  const grants = effective.grants;
  if (grants.length === 0) return { allowed: false, reason: 'unknown-requester' };
  const forType = grants.filter((grant) => grant.certificateType === certificateType);
  if (forType.length === 0) return { allowed: false, reason: 'type-not-allowed' };
  const forMatter = forType.filter((grant) => grant.matters.some((m) => m.code === matter));
  if (forMatter.length === 0) return { allowed: false, reason: 'matter-not-allowed' };
  const inForce: EffectiveGrant | undefined = forMatter.find((grant) => grant.status === 'in-force');
  if (inForce) {
    return { allowed: true, policyId: inForce.ruleId, fields: inForce.fields, masked: inForce.masked };
  }
  const pending = forMatter.some((grant) => grant.status === 'not-yet-valid');
  return { allowed: false, reason: pending ? 'policy-not-yet-valid' : 'policy-expired' };
}

export function matterView(
  matter: Matter,
  catalog: Pick<SchemaCatalog, 'get'>,
  effective: EffectivePolicy,
): MatterView {
  const evidence = matter.evidence.map((item) => ({
    id: item.id,
    name: item.name,
    required: item.required,
    ...(item.otherwise ? { otherwise: item.otherwise } : {}),
    certificateTypes: item.anyOf.map((certificateType) => {
      const type = catalog.get(certificateType);
      return {
        certificateType,
        title: type?.title ?? { zh: certificateType, en: certificateType },
        provider: type?.provider ?? 'unknown',
        subject: [...(matter.subjectIdentifiers.get(certificateType) ?? [])],
        policy: policyFor(effective, certificateType, matter.code),
      };
    }),
  }));
  return {
    code: matter.code,
    name: matter.name,
    party: matter.party,
    applicantIdentifiers: [...PARTY_IDENTIFIERS[matter.party]],
    legalBasis: matter.legalBasis,
    ...(matter.description ? { description: matter.description } : {}),
    requiredEvidenceAllowed: evidence
      .filter((item) => item.required)
      .every((item) => item.certificateTypes.some((type) => type.policy.allowed)),
    evidence,
  };
}

/** The effective policy of a calling system (its own grants only, not its whole department's). */
export type EffectivePolicyOf = (requester: Requester) => EffectivePolicy;
