/**
 * Change events: a department says that a record it holds was revoked, expired or amended, on its own
 * change topic, signed like its heartbeats (docs/protocol.md, "Change events"). Gateways check the
 * signature, match the event against approval systems' subscriptions and deliver the notices; a
 * connector only builds, signs and publishes.
 *
 * The checks here are the few that would otherwise only show up as a dead letter at the gateway, where
 * the department does not look: they are made before anything is signed or sent.
 */
import { randomUUID } from 'node:crypto';
import { type Bus, UnknownTopicError } from '../../gateway/protocol/bus.js';
import { type DepartmentSigner, signChangeEvent } from '../../gateway/protocol/department-signature.js';
import type { RecordChangeEnvelope, RecordChangeKind } from '../../gateway/protocol/envelopes.js';
import type { EnvelopeVerdict } from './request-envelope.js';

export type { RecordChangeEnvelope, RecordChangeKind };

export const RECORD_CHANGE_KINDS: readonly RecordChangeKind[] = ['revoked', 'expired', 'amended'];

/** What a department says changed; the connector adds its department, the schema version and times. */
export interface RecordChange {
  certificateType: string;
  /**
   * The record's identifiers, as a lookup of its type names them, e.g. `{ unifiedSocialCreditCode }`.
   * A list when several values identify the record (both spouses' ID numbers): a subscriber that
   * named any of them is told.
   */
  subject: Record<string, string | string[]>;
  change: RecordChangeKind;
  /** When the change took effect in the department's register. Default: now. */
  effectiveAt?: string | Date;
  /** The changed record fields with their new values, e.g. `{ status: 'revoked' }`. */
  fields?: Record<string, unknown>;
  /**
   * Unique per change; gateways and subscribers deduplicate on it. Default: a new random UUID. Pass
   * the same one again when re-sending a change (after a crash, say), so it causes one notice only.
   */
  changeId?: string;
}

/** Full schema check of a signed change event, e.g. `(v) => catalog.validateEnvelope('record-change', v)`. */
export type ChangeValidator = (value: unknown) => EnvelopeVerdict;

export type RecordChangeErrorCode = 'unsupported-certificate-type' | 'invalid-change' | 'not-running';

/** A change refused before anything was signed or published; `code` says why, the message how to fix it. */
export class RecordChangeError extends Error {
  override readonly name = 'RecordChangeError';
  constructor(
    readonly code: RecordChangeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 3339 with a time and an offset: Date.parse alone also takes '2026-11-30', read as UTC midnight,
// which for a department at UTC+8 is eight hours off.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const IDENTIFIER_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/** The event to sign: version 1, in the order docs/protocol.md shows it, as JSON will carry it. */
export function buildChangeEvent(
  change: RecordChange,
  context: { department: string; schemaVersion: number; now: Date },
): Omit<RecordChangeEnvelope, 'signature'> {
  const problem = changeProblem(change);
  if (problem) throw new RecordChangeError('invalid-change', `invalid change: ${problem}`);
  const effectiveAt = change.effectiveAt ?? context.now;
  const event = {
    version: 1 as const,
    changeId: change.changeId ?? randomUUID(),
    department: context.department,
    certificateType: change.certificateType,
    schemaVersion: context.schemaVersion,
    subject: change.subject,
    change: change.change,
    // In UTC, like every timestamp the protocol carries.
    effectiveAt: new Date(effectiveAt).toISOString(),
    ...(change.fields === undefined ? {} : { fields: change.fields }),
    sentAt: context.now.toISOString(),
  };
  // What the signature covers is the JSON text, so the caller gets back exactly that: a Date among the
  // fields becomes its ISO string, an undefined member disappears.
  return JSON.parse(JSON.stringify(event)) as Omit<RecordChangeEnvelope, 'signature'>;
}

/** Signs the event, checks it against the envelope schema when given one, and publishes it keyed by changeId. */
export async function publishChangeEvent(options: {
  bus: Bus;
  topic: string;
  event: Omit<RecordChangeEnvelope, 'signature'>;
  signer: DepartmentSigner;
  validate?: ChangeValidator;
}): Promise<RecordChangeEnvelope> {
  const { event, topic } = options;
  const signed: RecordChangeEnvelope = { ...event, signature: await signChangeEvent(options.signer, event) };
  const verdict = options.validate?.(signed);
  if (verdict && !verdict.ok) {
    const details = (verdict.errors ?? [])
      .map((error) => `${error.pointer || '/'} ${error.reason}`)
      .join('; ');
    throw new RecordChangeError(
      'invalid-change',
      `not a valid record-change envelope: ${details || 'rejected by the schema'}`,
    );
  }
  try {
    await options.bus.publish(topic, [
      {
        // Gateways deduplicate on the changeId; as the key it also spreads events over the partitions.
        key: event.changeId,
        value: JSON.stringify(signed),
        headers: { 'content-type': 'application/json' },
      },
    ]);
  } catch (error) {
    if (error instanceof UnknownTopicError) {
      throw new Error(
        `the change topic ${topic} does not exist: gateways create it when the connector is registered (POST /v1/connectors or silobridge connector register) and when they start`,
        { cause: error },
      );
    }
    throw error;
  }
  return signed;
}

function changeProblem(change: RecordChange): string | undefined {
  if (!isPlainObject(change)) return 'expected an object';
  if (!RECORD_CHANGE_KINDS.includes(change.change)) {
    return `change ${JSON.stringify(change.change)} is not one of ${RECORD_CHANGE_KINDS.join(', ')}`;
  }
  if (!isPlainObject(change.subject) || Object.keys(change.subject).length === 0) {
    return 'subject must be an object naming at least one identifier';
  }
  for (const [name, value] of Object.entries(change.subject)) {
    if (!IDENTIFIER_NAME.test(name)) return `subject identifier name ${JSON.stringify(name)} is not valid`;
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0 || values.some((one) => typeof one !== 'string' || one === '')) {
      return `subject.${name} must be a non-empty string or a list of them`;
    }
  }
  const { effectiveAt } = change;
  if (effectiveAt instanceof Date) {
    if (Number.isNaN(effectiveAt.getTime())) return 'effectiveAt is an invalid Date';
  } else if (effectiveAt !== undefined) {
    if (
      typeof effectiveAt !== 'string' ||
      !DATE_TIME.test(effectiveAt) ||
      Number.isNaN(Date.parse(effectiveAt))
    )
      return 'effectiveAt must be a Date or an RFC 3339 date-time with an offset, e.g. 2026-11-30T08:00:00Z';
  }
  if (change.fields !== undefined && !isPlainObject(change.fields)) return 'fields must be an object';
  if (change.changeId !== undefined && (typeof change.changeId !== 'string' || !UUID.test(change.changeId))) {
    return 'changeId must be a UUID';
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
