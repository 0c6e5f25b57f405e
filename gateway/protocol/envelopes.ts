/**
 * TypeScript shapes of the Kafka record values, written beside their schemas in `schemas/envelopes/`
 * (test/unit/schema-catalog.test.ts validates typed values of each against its schema, so the two
 * cannot drift apart unnoticed). The schemas are the contract; these types are what code relies on
 * after `catalog.validateEnvelope(...)` said yes.
 */

export type EnvelopeName = 'lookup-request' | 'lookup-reply' | 'heartbeat' | 'record-change';

export interface LookupPurposeEnvelope {
  /** The matter (administrative procedure) code. */
  matter: string;
  caseRef: string;
  officer: string;
}

export interface LookupRequestEnvelope {
  version: 1;
  /** A UUID; also the `kafka_correlationId` header. */
  lookupId: string;
  certificateType: string;
  schemaVersion: number;
  /**
   * Identifier name -> value; the schema allows only string values. Typed loosely because the gateway
   * builds it from a request body that the certificate type's subject schema has already checked.
   */
  subject: Record<string, unknown>;
  /** Record fields wanted; absent = all. */
  fields?: string[];
  purpose: LookupPurposeEnvelope;
  requester: { department: string; system?: string };
  /** RFC 3339 date-time after which the gateway no longer waits. */
  deadline: string;
}

export type LookupReplyOutcome = 'found' | 'not-found' | 'error';

export interface LookupReplyError {
  /** `adapter-failed`, `unsupported-certificate-type`, ...; an unknown code counts as `adapter-failed`. */
  code: string;
  message?: string;
}

interface LookupReplyBase {
  version: 1;
  lookupId: string;
  certificateType: string;
  schemaVersion: number;
  connector: { department: string; instanceId: string };
  /** The department's signature (compact JWS, docs/protocol.md); the gateway refuses a reply without. */
  signature?: string;
  /** Record field -> its disclosure (base64url of [salt, field, value]); with `found` only. */
  disclosures?: Record<string, string> | null;
}

/** A certificate record as a department holds it: field name -> value, checked against the type's schema. */
export type CertificateRecord = Record<string, unknown>;

/** `record` comes with `found` and only then; `error` with `error` and only then (as in the schema). */
export type LookupReplyEnvelope =
  | (LookupReplyBase & { outcome: 'found'; record: CertificateRecord; error?: never })
  | (LookupReplyBase & { outcome: 'not-found'; record?: never; error?: never })
  | (LookupReplyBase & { outcome: 'error'; error: LookupReplyError; record?: never });

export interface ServedCertificateType {
  certificateType: string;
  schemaVersion: number;
}

export interface HeartbeatEnvelope {
  version: 1;
  department: string;
  instanceId: string;
  certificateTypes: ServedCertificateType[];
  state: 'up' | 'down';
  intervalMs: number;
  /** RFC 3339 date-time, by the connector's clock. */
  sentAt: string;
  /** The connector software and its version, e.g. `silobridge-sdk/0.1.0`. */
  connectorVersion?: string;
  /** Requests the instance is handling now. */
  inFlight?: number;
  /** The department's signature; its payload is this heartbeat without `signature`. */
  signature?: string;
}

export type RecordChangeKind = 'revoked' | 'expired' | 'amended';

/** A provider department's notice that a record it holds changed (docs/protocol.md, "Change events"). */
export interface RecordChangeEnvelope {
  version: 1;
  /** A UUID, unique per change: gateways and subscribers deduplicate on it. */
  changeId: string;
  department: string;
  certificateType: string;
  schemaVersion: number;
  /** The record's subject, as a lookup of its type names it; a property may list several values. */
  subject: Record<string, unknown>;
  change: RecordChangeKind;
  /** RFC 3339: when the change took effect in the department's register. */
  effectiveAt: string;
  /** Changed record fields with their new values. */
  fields?: Record<string, unknown>;
  sentAt: string;
  /** Compact JWS (typ silobridge-change+jws) over every other member. */
  signature: string;
}
