/**
 * Subject identifiers in the audit log are keyed hashes, never values: HMAC-SHA256(key, "type:value")
 * per identifier, hex. `type` is the identifier's property name (the nearest one for nested subjects),
 * so the same resident ID number looked up for an ID card and for a marriage certificate hashes the
 * same, and one subject report finds both. Values are normalised first so that trivially different
 * spellings of one number match: Unicode NFKC (full-width digits become ASCII), whitespace removed,
 * upper case (the check character of a resident ID number is written 'x' and 'X').
 */
import { createHmac } from 'node:crypto';

export type SubjectHasher = (subject: Record<string, unknown> | undefined) => string[];

export function normaliseIdentifierValue(value: string): string {
  return value.normalize('NFKC').replace(/\s+/gu, '').toUpperCase();
}

/** The normalised `type:value` strings of every string or number in `subject`, sorted, unique. */
export function normalisedIdentifiers(subject: Record<string, unknown> | undefined): string[] {
  const found = new Set<string>();
  const visit = (value: unknown, type: string | undefined) => {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') {
      const normalised = normaliseIdentifierValue(String(value));
      if (type !== undefined && normalised !== '') found.add(`${type}:${normalised}`);
    } else if (Array.isArray(value)) {
      for (const item of value) visit(item, type);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) visit(child, key.normalize('NFKC').trim());
    }
  };
  visit(subject ?? {}, undefined);
  return [...found].sort();
}

export function createSubjectHasher(key: Buffer | string): SubjectHasher {
  const secret = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (secret.length < 32) throw new Error('The audit HMAC key must be at least 32 bytes long.');
  return (subject) =>
    [
      ...new Set(
        normalisedIdentifiers(subject).map((id) => createHmac('sha256', secret).update(id).digest('hex')),
      ),
    ].sort();
}

/** Names the key without revealing it: stored once per log so an instance with another key refuses to start. */
export function hmacKeyFingerprint(key: Buffer | string): string {
  return createHmac('sha256', key).update('silobridge audit hmac key check v1').digest('hex').slice(0, 32);
}
