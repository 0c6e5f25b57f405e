/**
 * What a department writes (or configures with an adapter) to answer lookups for one certificate type.
 * The runtime owns everything around it: consuming, deadlines, replies, errors and heartbeats.
 */
import type { CertificateRecord, LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';

export type { CertificateRecord };

export interface CertificateHandler {
  /** Version of the certificate type's schema the returned records follow; announced in heartbeats. */
  readonly schemaVersion: number;
  /**
   * Finds the record for `request.subject`; resolves `undefined` when the department holds none.
   * `signal` aborts at the request's deadline: pass it on to database queries and HTTP calls.
   */
  lookup(request: LookupRequestEnvelope, signal: AbortSignal): Promise<CertificateRecord | undefined>;
}

/**
 * A failure a handler may describe to the requesting department. Any other error thrown by a handler
 * is reported only as `adapter-failed` with a generic message, because its text may hold internals
 * (SQL, host names, personal data) that must not leave the department.
 */
export class LookupFailure extends Error {
  constructor(
    readonly code: LookupErrorCode,
    /** Sent to the gateway as is: keep it free of personal data and internals. */
    readonly publicMessage: string,
    options?: { cause?: unknown },
  ) {
    super(publicMessage, options);
    this.name = 'LookupFailure';
  }
}

export type LookupErrorCode =
  | 'adapter-failed'
  | 'unsupported-certificate-type'
  | 'unsupported-schema-version'
  | 'invalid-record'
  | 'ambiguous-subject';
