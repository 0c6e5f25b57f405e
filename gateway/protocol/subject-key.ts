import { createHash, createHmac } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * The Kafka record key of a lookup: 128 bits of HMAC-SHA256 over the certificate type and the
 * subject's canonical JSON (RFC 8785). Stable, so one subject's lookups stay on one partition. Keyed,
 * because a plain hash of an ID number can be reversed by trying every possible number; the secret is
 * derived from the audit HMAC key, which every gateway instance already shares.
 */
export type SubjectKeyer = (certificateType: string, subject: Record<string, unknown>) => string;

export function createSubjectKeyer(secret: string): SubjectKeyer {
  // Domain separation: the same secret also keys the audit log's subject hashes.
  const key = createHmac('sha256', secret).update('silobridge kafka subject key v1').digest();
  return (certificateType, subject) =>
    createHmac('sha256', key)
      .update(`${certificateType}\n${canonicalize(subject) ?? ''}`)
      .digest('hex')
      .slice(0, 32);
}

/** For tools and tests that stand in for a gateway: unkeyed, so never for real subjects. */
export function unkeyedSubjectKey(certificateType: string, subject: Record<string, unknown>): string {
  return createHash('sha256')
    .update(`${certificateType}\n${canonicalize(subject) ?? ''}`)
    .digest('hex')
    .slice(0, 32);
}
