/**
 * Searching the audit log: the filters a data officer can use, validated, turned into one
 * parameterised query over the generated columns, newest first (or oldest first), a page at a time.
 * The cursor is opaque to callers: base64url of the direction and the last sequence number returned.
 */

import { LOOKUP_OUTCOMES } from '../access/lookup-terms.js';
import { BadRequestError } from '../foundation/errors.js';
import { type InputReader, MATTER, REQUESTER } from '../http/input-reader.js';
import { CERTIFICATE_TYPE_PATTERN, DEPARTMENT_CODE_PATTERN } from '../protocol/codes.js';
import type { Queryable } from '../storage/database.js';
import type { ChainRow } from './audit-chain.js';
import { type AuditEvent, NOTICE_OUTCOMES } from './audit-events.js';
import { toChainRow } from './audit-store.js';

export const EVENT_KINDS: ReadonlyArray<AuditEvent['kind']> = [
  'lookup',
  'access-refused',
  'registry-change',
  'policy-change',
  'audit-access',
  'subscription',
  'change-notice',
];
/** What `outcome` filters on: a lookup's outcome, or a change notice's step. */
export const EVENT_OUTCOMES: readonly string[] = [...new Set([...LOOKUP_OUTCOMES, ...NOTICE_OUTCOMES])];
export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 100;

export interface AuditEventFilters {
  kind?: string[];
  /** `<department>` or `<department>/<system>`. */
  requester?: string;
  provider?: string;
  certificateType?: string;
  outcome?: string[];
  matter?: string;
  lookupId?: string;
  /** Inclusive. */
  from?: string;
  /** Exclusive. */
  to?: string;
  /** Keyed hashes of the subject's identifiers: events naming any of them. */
  subjectHashes?: string[];
}

export interface PageRequest {
  order: 'asc' | 'desc';
  limit: number;
  after?: number;
}

export interface EventPage {
  events: ChainRow[];
  nextCursor: string | null;
}

/** Reads the filters every search shares (query string or body), recording errors on `reader`. */
export function readFilters(reader: InputReader): AuditEventFilters {
  const filters: AuditEventFilters = {
    kind: reader.list('kind', EVENT_KINDS),
    requester: reader.string('requester', REQUESTER, 'a department code or <department>/<system>'),
    provider: reader.string('provider', DEPARTMENT_CODE_PATTERN, 'a department code'),
    certificateType: certificateTypeFilter(reader),
    outcome: reader.list('outcome', EVENT_OUTCOMES),
    matter: reader.string('matter', MATTER, 'a matter code'),
    lookupId: reader.string('lookupId', /^[A-Za-z0-9-]{1,64}$/, 'a lookup id'),
    from: reader.dateTime('from'),
    to: reader.dateTime('to'),
  };
  if (filters.from && filters.to && filters.from >= filters.to) reader.fail('to', 'must be later than from');
  return filters;
}

/** `certificateType`, or `type` for short (the issue's name); not both. */
function certificateTypeFilter(reader: InputReader): string | undefined {
  const long = reader.string('certificateType', CERTIFICATE_TYPE_PATTERN, 'a certificate type');
  const short = reader.string('type', CERTIFICATE_TYPE_PATTERN, 'a certificate type');
  if (long && short && long !== short)
    reader.fail('type', 'contradicts certificateType (type is its short name)');
  return long ?? short;
}

export function readPage(reader: InputReader): PageRequest {
  const limit = reader.integer('limit', 1, MAX_PAGE_SIZE) ?? DEFAULT_PAGE_SIZE;
  const order = reader.list('order', ['asc', 'desc'] as const)?.[0];
  const cursorText = reader.string(
    'cursor',
    /^[A-Za-z0-9_-]{1,200}$/,
    'a cursor returned by an earlier page',
  );
  const cursor = cursorText === undefined ? undefined : decodeCursor(cursorText);
  if (cursorText !== undefined && !cursor) reader.fail('cursor', 'is not a cursor this gateway issued');
  if (cursor && order && cursor.order !== order)
    reader.fail('order', 'differs from the order the cursor was issued for');
  return { order: cursor?.order ?? order ?? 'desc', limit, after: cursor?.after };
}

function encodeCursor(order: 'asc' | 'desc', after: number): string {
  return Buffer.from(JSON.stringify({ v: 1, o: order, s: after })).toString('base64url');
}

function decodeCursor(text: string): { order: 'asc' | 'desc'; after: number } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as {
      v?: unknown;
      o?: unknown;
      s?: unknown;
    };
    if (parsed.v !== 1 || (parsed.o !== 'asc' && parsed.o !== 'desc') || !Number.isSafeInteger(parsed.s))
      return undefined;
    return { order: parsed.o, after: parsed.s as number };
  } catch {
    return undefined;
  }
}

/** A PostgreSQL text[] literal (the same on pg and PGlite, which serialise JS arrays differently). */
export function textArray(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
}

export function whereClause(filters: AuditEventFilters, params: unknown[]): string {
  const conditions: string[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filters.kind) conditions.push(`kind = ANY(${param(textArray(filters.kind))}::text[])`);
  if (filters.requester) {
    const column = filters.requester.includes('/') ? 'requester_system' : 'requester_department';
    conditions.push(`${column} = ${param(filters.requester)}`);
  }
  if (filters.provider) conditions.push(`provider = ${param(filters.provider)}`);
  if (filters.certificateType) conditions.push(`certificate_type = ${param(filters.certificateType)}`);
  if (filters.outcome) conditions.push(`outcome = ANY(${param(textArray(filters.outcome))}::text[])`);
  if (filters.matter) conditions.push(`matter = ${param(filters.matter)}`);
  if (filters.lookupId) conditions.push(`lookup_id = ${param(filters.lookupId)}`);
  if (filters.from) conditions.push(`at >= ${param(filters.from)}::timestamptz`);
  if (filters.to) conditions.push(`at < ${param(filters.to)}::timestamptz`);
  if (filters.subjectHashes)
    conditions.push(`subject_hashes && ${param(textArray(filters.subjectHashes))}::text[]`);
  return conditions.length > 0 ? conditions.join(' AND ') : 'true';
}

export async function searchEvents(
  db: Queryable,
  filters: AuditEventFilters,
  page: PageRequest,
): Promise<EventPage> {
  const params: unknown[] = [];
  const where = [whereClause(filters, params)];
  if (page.after !== undefined) {
    params.push(page.after);
    where.push(`sequence ${page.order === 'desc' ? '<' : '>'} $${params.length}`);
  }
  params.push(page.limit + 1);
  const { rows } = await db.query<Parameters<typeof toChainRow>[0]>(
    `SELECT sequence, prev_hash, hash, event FROM audit_events WHERE ${where.join(' AND ')}
      ORDER BY sequence ${page.order === 'desc' ? 'DESC' : 'ASC'} LIMIT $${params.length}`,
    params,
  );
  const events = rows.slice(0, page.limit).map(toChainRow);
  const last = events.at(-1);
  return {
    events,
    nextCursor: rows.length > page.limit && last ? encodeCursor(page.order, last.sequence) : null,
  };
}

export async function findEvent(db: Queryable, sequence: number): Promise<ChainRow | undefined> {
  const { rows } = await db.query<Parameters<typeof toChainRow>[0]>(
    'SELECT sequence, prev_hash, hash, event FROM audit_events WHERE sequence = $1',
    [sequence],
  );
  return rows[0] ? toChainRow(rows[0]) : undefined;
}

export function parseSequence(text: string | undefined): number {
  const sequence = Number(text);
  if (!text || !/^\d{1,15}$/.test(text) || sequence < 1) {
    throw new BadRequestError('An event is named by its sequence number, a whole number from 1.', [
      { pointer: '/sequence', reason: 'must be a whole number from 1' },
    ]);
  }
  return sequence;
}
