import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * The Kafka record key of a lookup: the first 128 bits of SHA-256 over the certificate type and the
 * subject's canonical JSON (RFC 8785). Stable, so one subject's lookups stay on one partition, and no
 * identifier travels in clear in the key.
 */
export function subjectKey(certificateType: string, subject: Record<string, unknown>): string {
  return createHash('sha256')
    .update(`${certificateType}\n${canonicalize(subject) ?? ''}`)
    .digest('hex')
    .slice(0, 32);
}
