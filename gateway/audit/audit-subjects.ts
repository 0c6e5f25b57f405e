/**
 * The data-subject report: who accessed this person's or company's records, when and for which
 * matter, by lookup or by change notice. The identifiers given are hashed with the same key and normalisation as at lookup time and
 * matched against the indexed hashes; the report itself never holds them, and is itself audited.
 */

import type { InputReader } from '../http/input-reader.js';
import type { Queryable } from '../storage/database.js';
import type { ChainRow } from './audit-chain.js';
import { type EventPage, type PageRequest, searchEvents } from './audit-query.js';
import { normalisedIdentifiers } from './subject-hash.js';

export interface SubjectAccess {
  sequence: number;
  at: string;
  lookupId: string | undefined;
  requester: unknown;
  officer: string | undefined;
  matter: string | undefined;
  caseRef: string | undefined;
  certificateType: string | undefined;
  provider: string | undefined;
  outcome: string | undefined;
  /** Set when the lookup was one item of an evidence bundle (POST /v1/matters/{code}/evidence). */
  bundleId?: string;
  /** `change-notice`: a change of the record was delivered (or refused) to a subscriber; else a lookup. */
  kind: 'lookup' | 'change-notice';
  /** For a change notice: the subscription it was delivered under. */
  subscriptionId?: string;
}

export interface SubjectReportPage {
  accesses: SubjectAccess[];
  nextCursor: string | null;
}

/** The subject (an object of identifiers, like a lookup's), or undefined with the error recorded. */
export function readSubject(reader: InputReader): Record<string, unknown> | undefined {
  const subject = reader.object('subject', true);
  if (!subject) return undefined;
  const count = Object.keys(subject).length;
  if (count === 0 || count > 10) return reader.fail('subject', 'must have 1 to 10 identifiers');
  if (normalisedIdentifiers(subject).length === 0) return reader.fail('subject', 'has no identifier value');
  return subject;
}

function toAccess(row: ChainRow): SubjectAccess {
  const event = row.event as Record<string, unknown> & { purpose?: Record<string, string | undefined> };
  return {
    sequence: row.sequence,
    at: row.event.at,
    lookupId: event.lookupId as string | undefined,
    requester: event.requester,
    officer: event.purpose?.officer,
    matter: event.purpose?.matter,
    caseRef: event.purpose?.caseRef,
    certificateType: event.certificateType as string | undefined,
    provider: event.provider as string | undefined,
    outcome: event.outcome as string | undefined,
    ...(typeof event.bundleId === 'string' ? { bundleId: event.bundleId } : {}),
    kind: event.kind === 'change-notice' ? 'change-notice' : 'lookup',
    ...(typeof event.subscriptionId === 'string' ? { subscriptionId: event.subscriptionId } : {}),
  };
}

export async function subjectReport(
  db: Queryable,
  subjectHashes: string[],
  range: { from?: string; to?: string; outcome?: string[] },
  page: PageRequest,
): Promise<SubjectReportPage> {
  // Lookups, and change notices: a delivered notice releases record fields too.
  const found: EventPage = await searchEvents(
    db,
    { kind: ['lookup', 'change-notice'], subjectHashes, ...range },
    page,
  );
  return { accesses: found.events.map(toAccess), nextCursor: found.nextCursor };
}
