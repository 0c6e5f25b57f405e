/**
 * Handlers for the sample departments, answering from the seed files in `connectors/samples/seed/`
 * (fictitious people and companies; where that folder is, the caller says: the gateway's demo wiring
 * knows its installation). A real department swaps these for the PostgreSQL or HTTP adapter.
 *
 * The samples can also change a record they hold and announce it (applySampleChange), so the demo
 * shows a revocation travelling from a department to the approval systems that subscribed to it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RecordChangeEnvelope, RecordChangeKind } from '../../gateway/protocol/envelopes.js';
import { createFixtureHandler, type FixtureEntry, type FixtureHandler } from '../adapters/fixture-adapter.js';
import { RECORD_CHANGE_KINDS, type RecordChange } from '../runtime/change-events.js';
import type { Connector } from '../runtime/connector-runtime.js';
import type { EnvelopeVerdict } from '../runtime/request-envelope.js';
import { sampleDepartment } from './sample-departments.js';

/** The seed records follow version 1 of every certificate type's schema. */
export const SAMPLE_SCHEMA_VERSION = 1;

export function readSeed(certificateType: string, seedDir: string): FixtureEntry[] {
  const file = path.join(seedDir, `${certificateType}.json`);
  let entries: unknown;
  try {
    entries = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read seed data for ${certificateType} from ${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray(entries)) throw new Error(`${file} must hold a JSON array of {subject, record}`);
  return entries as FixtureEntry[];
}

export function createSampleHandlers(department: string, seedDir: string): Record<string, FixtureHandler> {
  return Object.fromEntries(
    sampleDepartment(department).certificateTypes.map((certificateType) => [
      certificateType,
      createFixtureHandler({
        records: readSeed(certificateType, seedDir),
        schemaVersion: SAMPLE_SCHEMA_VERSION,
      }),
    ]),
  );
}

/** A change to a sample record, as the demo's admin asks for it. */
export interface SampleChange {
  certificateType: string;
  /** Any one identifier of the record, as a lookup names it, e.g. `{ unifiedSocialCreditCode }`. */
  subject: Record<string, string>;
  change: RecordChangeKind;
  /**
   * Record fields to set. `revoked` and `expired` set `status` and `statusChangedOn` themselves (these
   * win over the defaults); `amended` needs at least one.
   */
  fields?: Record<string, unknown>;
  /** Default: now. */
  effectiveAt?: string | Date;
}

export type SampleChangeErrorCode =
  | 'unknown-department'
  | 'record-not-found'
  | 'invalid-record'
  | 'invalid-change';

/** A sample change refused before the record or the topic was touched. */
export class SampleChangeError extends Error {
  override readonly name = 'SampleChangeError';
  constructor(
    readonly code: SampleChangeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Changes a record a sample department holds, then publishes the signed change event through its
 * connector, in that order, as a department's register changes before it tells anyone. If the event
 * cannot be published, the record is put back, so the demo never shows a change nobody was told of.
 * Errors: SampleChangeError, or the connector's RecordChangeError (a type it does not answer, a
 * connector not running), both before anything changed.
 */
export async function applySampleChange(
  target: {
    connector: Pick<Connector, 'department' | 'publishChange'>;
    handlers: Readonly<Record<string, FixtureHandler>>;
    /** The certificate schema check (the catalog's validateRecord): no change may leave an invalid record. */
    validateRecord?: (certificateType: string, schemaVersion: number, record: unknown) => EnvelopeVerdict;
  },
  change: SampleChange,
): Promise<RecordChangeEnvelope> {
  const { connector, handlers } = target;
  const handler = Object.hasOwn(handlers, change.certificateType)
    ? handlers[change.certificateType]
    : undefined;
  // Unknown types, and invalid changes, are the connector's to refuse: it says which types it answers.
  if (!handler) return connector.publishChange(change);
  if (!RECORD_CHANGE_KINDS.includes(change.change)) {
    throw new SampleChangeError(
      'invalid-change',
      `change ${JSON.stringify(change.change)} is not one of ${RECORD_CHANGE_KINDS.join(', ')}`,
    );
  }
  if (!isPlainObject(change.subject)) {
    throw new SampleChangeError('invalid-change', 'subject must be an object naming an identifier');
  }
  if (change.fields !== undefined && !isPlainObject(change.fields)) {
    throw new SampleChangeError('invalid-change', 'fields must be an object');
  }
  // As given: the connector checks that a string is an RFC 3339 date-time (and the update is undone).
  const effectiveAt = change.effectiveAt ?? new Date();
  const instant = new Date(effectiveAt);
  if (Number.isNaN(instant.getTime())) {
    throw new SampleChangeError('invalid-change', 'effectiveAt must be an RFC 3339 date-time');
  }
  const fields = { ...statusFields(change.change, instant), ...change.fields };
  if (Object.keys(fields).length === 0) {
    throw new SampleChangeError('invalid-change', 'an amendment needs the fields it changes');
  }
  const update = handler.update(change.subject, fields);
  if (!update) {
    throw new SampleChangeError(
      'record-not-found',
      `${connector.department} holds no ${change.certificateType} for that subject`,
    );
  }
  const verdict = target.validateRecord?.(change.certificateType, handler.schemaVersion, update.record);
  if (verdict && !verdict.ok) {
    update.undo();
    const details = (verdict.errors ?? [])
      .map((error) => `${error.pointer || '/'} ${error.reason}`)
      .join('; ');
    throw new SampleChangeError(
      'invalid-record',
      `the changed ${change.certificateType} would not match its schema: ${details}`,
    );
  }
  const published: RecordChange = {
    certificateType: change.certificateType,
    subject: eventSubject(update.subject, change.subject),
    change: change.change,
    effectiveAt,
    fields,
  };
  try {
    return await connector.publishChange(published);
  } catch (error) {
    update.undo();
    throw error;
  }
}

/** Revocation and expiry change the status, as of the day they took effect. */
function statusFields(change: RecordChangeKind, effectiveAt: Date): Record<string, unknown> {
  if (change === 'amended') return {};
  return { status: change, statusChangedOn: chinaDate(effectiveAt) };
}

/**
 * The calendar date in China (UTC+8 all year, no daylight saving), where the sample departments are:
 * a revocation at 07:00 in Fuzhou is dated that day, not the day before as its UTC date would be.
 */
function chinaDate(instant: Date): string {
  return new Date(instant.getTime() + 8 * 60 * 60_000).toISOString().slice(0, 10);
}

/**
 * The identifiers the event names: those the caller gave, plus every other one the record holds, so a
 * subscription by any of them matches (a food licence by credit code or by licence number). The event
 * carries one value per identifier: of a list (both spouses of a marriage), only the one the caller
 * named, or the only one.
 */
function eventSubject(held: Record<string, unknown>, asked: Record<string, string>): Record<string, string> {
  const subject: Record<string, string> = {};
  for (const [name, value] of Object.entries(held)) {
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 1 && typeof values[0] === 'string') subject[name] = values[0];
  }
  return { ...subject, ...asked };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
