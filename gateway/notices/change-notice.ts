/**
 * A change notice: what one subscriber learns of one change event. It names the record (certificate
 * type, provider, and of the subject's identifiers only those the subscriber itself named), what
 * changed and when, and of the changed fields only those its policy grants, masked as in a lookup.
 * The gateway signs it (compact JWS, ES256, typ `silobridge-change-notice+jws`, payload = the notice
 * without `signature`; keys at /.well-known/jwks.json), having checked the department's own signature
 * on the event (`providerKeyId` names that key).
 */
import canonicalize from 'canonicalize';
import type { PolicyDecision } from '../access/lookup-terms.js';
import type { SubjectHasher } from '../audit/subject-hash.js';
import { releasedPart } from '../lookups/lookup-service.js';
import type { RecordChangeEnvelope } from '../protocol/envelopes.js';
import { type JsonWebKeySet, verifyCompact } from '../signing/jws.js';
import type { ClaimedDelivery } from './notice-store.js';

export const CHANGE_NOTICE_TYP = 'silobridge-change-notice+jws';

export interface ChangeNotice {
  /** Unique per subscriber and change; the same on every retry, so receivers deduplicate on it. */
  noticeId: string;
  subscriptionId: string;
  changeId: string;
  certificateType: string;
  provider: string;
  subject: Record<string, string>;
  change: RecordChangeEnvelope['change'];
  effectiveAt: string;
  /** The changed fields the policy grants, masked as in a lookup; {} when none. */
  fields: Record<string, unknown>;
  purpose: { matter: string; caseRef: string };
  /** The department key that signed the change event (`<system id>#<key id>`). */
  providerKeyId: string;
  sentAt: string;
}

export interface SignedChangeNotice extends ChangeNotice {
  signature: string;
}

/**
 * The identifiers of the event's subject that the subscriber named itself: never more (a marriage
 * certificate's event names both spouses; a subscriber that named one learns nothing of the other).
 */
export function subjectKnownTo(
  subject: Record<string, unknown>,
  subscribedHashes: readonly string[],
  hashSubject: SubjectHasher,
): Record<string, string> {
  const known = new Set(subscribedHashes);
  const shown: Record<string, string> = {};
  for (const [name, value] of Object.entries(subject)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (typeof one !== 'string') continue;
      if (hashSubject({ [name]: one }).some((hash) => known.has(hash))) {
        shown[name] = one;
        break;
      }
    }
  }
  return shown;
}

export function buildChangeNotice(
  delivery: ClaimedDelivery,
  decision: Pick<PolicyDecision, 'fields' | 'mask'>,
  hashSubject: SubjectHasher,
  now = new Date(),
): ChangeNotice {
  const { subscription, change } = delivery;
  return {
    noticeId: `${subscription.id}/${change.changeId}`,
    subscriptionId: subscription.id,
    changeId: change.changeId,
    certificateType: change.certificateType,
    provider: change.department,
    subject: subjectKnownTo(change.subject, subscription.subjectHashes, hashSubject),
    change: change.change,
    effectiveAt: change.effectiveAt,
    fields: releasedPart(change.fields ?? {}, subscription.fields ?? undefined, decision),
    purpose: { matter: subscription.purpose.matter, caseRef: subscription.purpose.caseRef },
    providerKeyId: delivery.providerKeyId,
    sentAt: now.toISOString(),
  };
}

/** Checks a notice's signature against a JWKS and that it signs exactly the notice received. */
export async function verifyChangeNotice(
  notice: SignedChangeNotice,
  jwks: JsonWebKeySet,
): Promise<ChangeNotice> {
  const { signature, ...stated } = notice;
  const { payload } = await verifyCompact<ChangeNotice>(signature, jwks, CHANGE_NOTICE_TYP);
  if (canonicalize(payload) !== canonicalize(stated)) {
    throw new Error('the signed notice differs from the notice received');
  }
  return payload;
}
