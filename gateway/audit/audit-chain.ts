/**
 * The hash chain, as anyone can recompute it (docs/audit.md "Verifying offline"):
 *   hash(n) = hex(SHA-256(UTF-8(hash(n-1) + canonical JSON of stored event n))), hash(0) = 64 × "0"
 * where canonical JSON is RFC 8785 (JCS) and the stored event carries its own `sequence`, so moving an
 * event to another position changes its hash. The stored event is the recorded event made
 * JSON-exact (what PostgreSQL's jsonb keeps byte for byte), with subject identifiers replaced by
 * keyed hashes.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditEvent } from './audit-events.js';
import type { SubjectHasher } from './subject-hash.js';

export const GENESIS_HASH = '0'.repeat(64);
export const STORED_EVENT_VERSION = 1;

/** An event in its stored form, before it has a place in the chain. */
export interface PreparedEvent {
  /** Version of the stored form. */
  v: number;
  kind: AuditEvent['kind'];
  at: string;
  /** Keyed hashes of the subject's identifiers (subject-hash.ts), sorted. */
  subjectHashes?: string[];
  [field: string]: unknown;
}

export interface StoredAuditEvent extends PreparedEvent {
  sequence: number;
}

/** One link of the chain, as stored and as exported. */
export interface ChainRow {
  sequence: number;
  prevHash: string;
  hash: string;
  event: StoredAuditEvent;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** PostgreSQL's jsonb refuses NUL and lone surrogates, and RFC 8785 refuses lone surrogates. */
function storableString(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD').replaceAll('\u0000', '\uFFFD');
}

/** A deep copy holding only what JSON can say, so the hash written equals the hash recomputed from the database. */
export function jsonExact(value: unknown): unknown {
  if (typeof value === 'string') return storableString(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean' || value === null) return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : jsonExact(item)));
  if (typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (child === undefined || typeof child === 'function' || typeof child === 'symbol') continue;
      copy[storableString(key)] = jsonExact(child);
    }
    return copy;
  }
  return null;
}

/** The stored form of an event, before it has a sequence number. Throws on an event the log cannot hold. */
export function prepareEvent(event: AuditEvent, hashSubject: SubjectHasher): PreparedEvent {
  const time = new Date(event.at);
  if (Number.isNaN(time.getTime()))
    throw new TypeError(`audit event time ${JSON.stringify(event.at)} is not a date`);
  const { subject, ...rest } = event as AuditEvent & { subject?: Record<string, unknown> };
  const prepared = jsonExact({ ...rest, at: time.toISOString(), v: STORED_EVENT_VERSION }) as PreparedEvent;
  // Identifiers are hashed here; an event may instead bring hashes made with the same key earlier.
  if (subject !== undefined) prepared.subjectHashes = hashSubject(subject);
  return prepared;
}

export function canonicalJson(value: unknown): string {
  const json = canonicalize(value);
  if (json === undefined) throw new TypeError('value has no JSON form');
  return json;
}

export function chainHash(prevHash: string, event: StoredAuditEvent): string {
  return createHash('sha256')
    .update(prevHash + canonicalJson(event), 'utf8')
    .digest('hex');
}

/** Links prepared events onto a chain whose head is (`headSequence`, `headHash`). */
export function linkEvents(headSequence: number, headHash: string, prepared: PreparedEvent[]): ChainRow[] {
  const rows: ChainRow[] = [];
  let prevHash = headHash;
  let sequence = headSequence;
  for (const body of prepared) {
    sequence += 1;
    const event = { ...body, sequence } as StoredAuditEvent;
    const hash = chainHash(prevHash, event);
    rows.push({ sequence, prevHash, hash, event });
    prevHash = hash;
  }
  return rows;
}
