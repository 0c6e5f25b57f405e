/**
 * Answers lookups from records held in memory: seed files for demos and tests, or a department's
 * nightly export while its real system is being connected. The records can be changed in memory too
 * (update), so a demo can revoke a record and show that later lookups see it.
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

export interface FixtureUpdate {
  /** The identifiers the changed entry holds (a copy). */
  subject: Record<string, unknown>;
  /** The record before and after the update (copies). */
  previous: CertificateRecord;
  record: CertificateRecord;
  /** Puts the previous record back, unless the record was changed again since. */
  undo(): void;
}

export interface FixtureHandler extends CertificateHandler {
  /**
   * Changes, in memory, the record a lookup of `subject` finds: each of `fields` replaces the field of
   * that name, or adds it. Undefined when no record matches. Later lookups answer the new record.
   */
  update(subject: Record<string, unknown>, fields: Record<string, unknown>): FixtureUpdate | undefined;
}

export function createFixtureHandler(options: FixtureHandlerOptions): FixtureHandler {
  const records = options.records.map((entry, index) => {
    if (!isPlainObject(entry?.subject) || !isPlainObject(entry.record)) {
      throw new Error(`fixture entry ${index} needs object "subject" and "record" properties`);
    }
    // Copies: updates change this handler's records, never the caller's (or another handler's) seed.
    return { subject: structuredClone(entry.subject), record: structuredClone(entry.record) };
  });
  // The first match, for lookups and updates alike, so an update changes what a lookup answers.
  const find = (subject: Record<string, unknown>) =>
    records.find((entry) => matchesSubject(entry.subject, subject));
  return {
    schemaVersion: options.schemaVersion,
    async lookup(request) {
      const found = find(request.subject);
      // A copy, so nothing downstream can alter the fixture for later lookups.
      return found ? structuredClone(found.record) : undefined;
    },
    update(subject, fields) {
      const entry = find(subject);
      if (!entry) return undefined;
      const previous = entry.record;
      const record = { ...previous, ...structuredClone(fields) };
      entry.record = record;
      return {
        subject: structuredClone(entry.subject),
        previous: structuredClone(previous),
        record: structuredClone(record),
        undo() {
          if (entry.record === record) entry.record = previous;
        },
      };
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
