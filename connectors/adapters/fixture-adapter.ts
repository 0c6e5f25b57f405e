/**
 * Answers lookups from records held in memory: seed files for demos and tests, or a department's
 * nightly export while its real system is being connected.
 */
import type { CertificateHandler, CertificateRecord } from '../runtime/certificate-handler.js';

export interface FixtureEntry {
  /**
   * Identifiers of the record's subject. A property may list several values when any of them
   * identifies the record (both spouses' ID numbers on a marriage certificate).
   */
  subject: Record<string, unknown>;
  record: CertificateRecord;
}

export interface FixtureHandlerOptions {
  records: readonly FixtureEntry[];
  schemaVersion: number;
}

export function createFixtureHandler(options: FixtureHandlerOptions): CertificateHandler {
  const records = options.records.map((entry, index) => {
    if (!isPlainObject(entry?.subject) || !isPlainObject(entry.record)) {
      throw new Error(`fixture entry ${index} needs object "subject" and "record" properties`);
    }
    return entry;
  });
  return {
    schemaVersion: options.schemaVersion,
    async lookup(request) {
      const found = records.find((entry) => matchesSubject(entry.subject, request.subject));
      // A copy, so nothing downstream can alter the fixture for later lookups.
      return found ? structuredClone(found.record) : undefined;
    },
  };
}

/** True when any identifier the request gives equals one the entry holds under the same name. */
export function matchesSubject(held: Record<string, unknown>, asked: Record<string, unknown>): boolean {
  return Object.entries(asked).some(([name, value]) => {
    if (value === undefined || value === null) return false;
    const candidates = held[name];
    return Array.isArray(candidates) ? candidates.includes(value) : candidates === value;
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
