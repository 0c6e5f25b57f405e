/**
 * A certificate lookup, stage by stage: validate the request against the shared schemas, authorise it
 * (policy seam), find a live connector, send the request to the provider department over the bus and
 * wait for its reply, validate the reply against the certificate type's schema, project the record,
 * and record the access (audit seam) before releasing anything. Every outcome is audited.
 */
import { createHash, randomUUID } from 'node:crypto';
import canonicalize from 'canonicalize';
import type {
  LookupOutcome,
  LookupPolicy,
  LookupRequest,
  PolicyDecision,
  Requester,
} from '../access/lookup-terms.js';
import type { AuditRecorder, LookupAuditEvent } from '../audit/audit-events.js';
import { markAudited } from '../audit/audited-errors.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import {
  BadGatewayError,
  GatewayError,
  NotFoundError,
  ServiceUnavailableError,
} from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';
import type { Bus, IncomingMessage } from '../protocol/bus.js';
import type {
  LookupReplyEnvelope,
  LookupRequestEnvelope,
  ServedCertificateType,
} from '../protocol/envelopes.js';
import type { SubjectKeyer } from '../protocol/subject-key.js';
import { DEAD_LETTER_REASON_HEADER, type TopicNames } from '../protocol/topics.js';
import { checkAgainstCatalog, parseLookupRequest, type RequestCatalog } from './lookup-request.js';
import { type ProviderSignatures, SignatureRefusal, type VerifiedReply } from './provider-signatures.js';
import type { SendRequest } from './reply-router.js';

export interface LookupResult {
  lookupId: string;
  certificateType: string;
  schemaVersion: number;
  provider: string;
  record: Record<string, unknown>;
  /** SHA-256 (hex) of the record's canonical JSON (RFC 8785): what the response signature binds. */
  recordDigest: string;
  retrievedAt: string;
  /** The provider department's own signature, checkable offline with its published keys. */
  departmentSignature: DepartmentSignature;
}

/**
 * The department's signature as the approval system receives it: the JWS as the connector made it, and
 * the disclosures of the fields released unchanged. A field the policy masked has no disclosure (its
 * value differs from what the department signed); a field withheld is only a salted digest.
 */
export interface DepartmentSignature {
  keyId: string;
  signature: string;
  disclosures: Record<string, string>;
}

interface ProviderRecord {
  record: Record<string, unknown>;
  schemaVersion: number;
  signed: VerifiedReply;
}

/** Why a reply cannot be used; `problem` is the problem type the caller gets (502). */
class UnusableReply extends Error {
  constructor(
    readonly problem: keyof typeof UNUSABLE_REPLY_DETAIL,
    reason: string,
  ) {
    super(reason);
  }
}

const UNUSABLE_REPLY_DETAIL = {
  'invalid-provider-reply': (provider: string) => `Department '${provider}' sent a malformed reply`,
  'provider-signature-invalid': (provider: string) =>
    `Department '${provider}' sent a reply that is not signed by one of its registered connector keys`,
  'mismatched-provider-reply': (provider: string) =>
    `Department '${provider}' sent a reply that belongs to another lookup`,
  'invalid-provider-record': (provider: string, certificateType: string) =>
    `Department '${provider}' answered with a record that does not match the ${certificateType} schema`,
} satisfies Record<string, (provider: string, certificateType: string) => string>;

function departmentSignatureFor(
  released: Record<string, unknown>,
  fetched: ProviderRecord,
): DepartmentSignature {
  const disclosures: Record<string, string> = {};
  for (const [field, value] of Object.entries(released)) {
    const disclosure = fetched.signed.disclosures[field];
    if (disclosure !== undefined && canonicalize(value) === canonicalize(fetched.record[field])) {
      disclosures[field] = disclosure;
    }
  }
  return { keyId: fetched.signed.keyId, signature: fetched.signed.signature, disclosures };
}

/** What a lookup asks of the shared schemas (gateway/catalog's SchemaCatalog is one). */
export interface LookupCatalog extends RequestCatalog {
  validateRecord: SchemaCatalog['validateRecord'];
  validateEnvelope: SchemaCatalog['validateEnvelope'];
}

/** Sends a request and waits for the reply with its correlation id (ReplyRouter is one). */
export interface ReplyWaiter {
  request(request: SendRequest): Promise<IncomingMessage>;
}

/** Which certificate types each department registered a connector for (the registry is one). */
export interface RegisteredConnectors {
  registrationOf(department: string): Promise<{ certificateTypes: ServedCertificateType[] } | undefined>;
}

/** Which connector instances answer a department's certificate type now (ConnectorDirectory is one). */
export interface LiveConnectors {
  liveInstances(department: string, certificateType: string): string[];
}

/** One answered lookup, for the metrics: raw values, which the metrics bound to known labels. */
export interface LookupObservation {
  requesterDepartment: string;
  /** The certificate type's provider in the catalog; undefined when the type is not in it. */
  providerDepartment: string | undefined;
  certificateType: string | undefined;
  outcome: LookupOutcome;
  /** The audit event's `reason` (for a denial, the policy's). */
  reason: string | undefined;
  /** Until the audit event was recorded, as its `latencyMs`. */
  seconds: number;
}

export interface LookupServiceDependencies {
  catalog: LookupCatalog;
  /** Only to dead-letter replies that cannot be used. */
  bus: Pick<Bus, 'publish'>;
  replies: ReplyWaiter;
  directory: LiveConnectors;
  registrations: RegisteredConnectors;
  /** Checks each reply's department signature before anything else. */
  signatures: Pick<ProviderSignatures, 'verifyReply'>;
  topics: TopicNames;
  policy: LookupPolicy;
  audit: AuditRecorder;
  logger: Logger;
  timeoutMs: number;
  /**
   * Most lookups waiting on one provider department at once (on this instance); more are refused at
   * once with 503 `provider-busy`, so a slow department cannot pile up work that starves the others.
   */
  maxInFlightPerProvider?: number;
  /** The Kafka record key of a subject (partitioning without the identifier in clear). */
  subjectKey: SubjectKeyer;
  /** Observes each lookup once it answered, whether or not its audit event committed (metrics). */
  observe?: (lookup: LookupObservation) => void;
}

function outcomeOf(error: unknown): LookupOutcome {
  if (!(error instanceof GatewayError)) return 'failed';
  if (error.status === 403 || error.status === 429) return 'denied';
  if (error.status === 404) return 'not-found';
  if (error.status === 504) return 'timed-out';
  // The request itself was wrong: malformed, too large, an unsupported media type or encoding.
  if (error.status >= 400 && error.status < 500) return 'invalid';
  return 'failed';
}

export function recordDigest(record: unknown): string {
  return createHash('sha256')
    .update(canonicalize(record) ?? '')
    .digest('hex');
}

/** How a lookup is made as part of something larger (an evidence bundle); absent for a plain lookup. */
export interface LookupOptions {
  /** Recorded in the lookup's audit event: the evidence bundle it belongs to. */
  bundleId?: string;
  /** Epoch milliseconds: the provider's reply is awaited until then at most (and never past the lookup timeout). */
  deadline?: number;
}

export class LookupService {
  constructor(private readonly deps: LookupServiceDependencies) {}

  private readonly inFlight = new Set<Promise<unknown>>();
  /** Lookups waiting for a provider's reply, per provider department. */
  private readonly waitingOn = new Map<string, number>();

  /** Performs one lookup; throws a GatewayError (already audited) when it cannot be answered. */
  lookup(body: unknown, requester: Requester, options: LookupOptions = {}): Promise<LookupResult> {
    const running = this.perform(body, requester, options);
    this.inFlight.add(running);
    const forget = () => this.inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  /** Resolves once every lookup under way has answered and recorded its audit event (shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private async perform(body: unknown, requester: Requester, options: LookupOptions): Promise<LookupResult> {
    const lookupId = randomUUID();
    const started = performance.now();
    let request: LookupRequest | undefined;
    let provider: string | undefined;
    let policyId: string | undefined;
    // What the last audit event said, for the metrics (the answer's, even if that event failed).
    let lastOutcome: LookupOutcome = 'failed';
    let lastReason: string | undefined;
    let latency = 0;
    const audit = async (outcome: LookupOutcome, status: number, extra: Partial<LookupAuditEvent>) => {
      lastOutcome = outcome;
      lastReason = extra.reason;
      latency = performance.now() - started;
      await this.deps.audit.record({
        kind: 'lookup',
        lookupId,
        at: new Date().toISOString(),
        requester,
        purpose: request?.purpose,
        certificateType: request?.certificateType,
        subject: request?.subject,
        provider,
        outcome,
        status,
        latencyMs: Math.round(latency * 1000) / 1000,
        ...(policyId ? { policyId } : {}),
        ...(options.bundleId ? { bundleId: options.bundleId } : {}),
        ...extra,
      });
    };

    try {
      request = parseLookupRequest(body);
      const target = checkAgainstCatalog(this.deps.catalog, request);
      provider = target.provider;
      const decision = await this.deps.policy.authorize(requester, request, provider);
      policyId = decision.policyId;
      const fields = narrowFields(request.fields, decision.fields);

      const fetched = await this.fetchRecord(
        lookupId,
        request,
        provider,
        requester,
        fields,
        options.deadline,
      );
      const projected = releasedPart(fetched.record, fields, decision);
      const digest = recordDigest(projected);
      // Fail closed: if this does not commit, the catch below answers 503 and the record stays here.
      await audit('granted', 200, { recordDigest: digest, providerKeyId: fetched.signed.keyId });
      return {
        lookupId,
        certificateType: request.certificateType,
        schemaVersion: fetched.schemaVersion,
        provider,
        record: projected,
        recordDigest: digest,
        departmentSignature: departmentSignatureFor(projected, fetched),
        retrievedAt: new Date().toISOString(),
      };
    } catch (error) {
      if (!(error instanceof GatewayError)) {
        await audit('failed', 500, {});
        throw error;
      }
      // The lookup id lets the caller and a data officer find this attempt in the audit log.
      error.extensions.lookupId = lookupId;
      if (typeof error.extensions.policyId === 'string') policyId = error.extensions.policyId;
      const reason = typeof error.extensions.reason === 'string' ? error.extensions.reason : error.problem;
      await audit(outcomeOf(error), error.status, { problemType: error.type, reason });
      // Recorded here as a lookup event; the refusal middleware must not record it a second time.
      markAudited(error);
      throw error;
    } finally {
      // Raw values: the metrics map anything outside the registry and the catalog to a fixed label.
      this.deps.observe?.({
        requesterDepartment: requester.department,
        providerDepartment: provider,
        certificateType: request?.certificateType,
        outcome: lastOutcome,
        reason: lastReason,
        seconds: latency / 1000,
      });
    }
  }

  private async fetchRecord(
    lookupId: string,
    request: LookupRequest,
    provider: string,
    requester: Requester,
    fields: string[] | undefined,
    deadline: number | undefined,
  ): Promise<ProviderRecord> {
    const registration = await this.deps.registrations.registrationOf(provider);
    const served = registration?.certificateTypes.find(
      (type) => type.certificateType === request.certificateType,
    );
    if (!served) {
      throw new ServiceUnavailableError(
        `Department '${provider}' has no connector registered for ${request.certificateType}.`,
        'connector-not-registered',
        { provider },
      );
    }
    if (this.deps.directory.liveInstances(provider, request.certificateType).length === 0) {
      throw new ServiceUnavailableError(
        `No connector of department '${provider}' is online for ${request.certificateType}.`,
        'no-live-connector',
        { provider },
      );
    }
    const waiting = this.waitingOn.get(provider) ?? 0;
    const limit = this.deps.maxInFlightPerProvider ?? Number.POSITIVE_INFINITY;
    if (waiting >= limit) {
      const error = new ServiceUnavailableError(
        `Department '${provider}' already has ${waiting} lookups waiting for its answer, the most this gateway sends it at once; try again shortly.`,
        'provider-busy',
        { provider, reason: 'provider-busy' },
      );
      error.headers['Retry-After'] = '1';
      throw error;
    }
    this.waitingOn.set(provider, waiting + 1);
    try {
      return await this.askProvider(
        lookupId,
        request,
        provider,
        requester,
        fields,
        served.schemaVersion,
        deadline,
      );
    } finally {
      const left = (this.waitingOn.get(provider) ?? 1) - 1;
      if (left > 0) this.waitingOn.set(provider, left);
      else this.waitingOn.delete(provider);
    }
  }

  private async askProvider(
    lookupId: string,
    request: LookupRequest,
    provider: string,
    requester: Requester,
    fields: string[] | undefined,
    schemaVersion: number,
    sharedDeadline: number | undefined,
  ): Promise<ProviderRecord> {
    const deadline = Math.min(Date.now() + this.deps.timeoutMs, sharedDeadline ?? Number.POSITIVE_INFINITY);
    const envelope: LookupRequestEnvelope = {
      version: 1,
      lookupId,
      certificateType: request.certificateType,
      schemaVersion,
      subject: request.subject,
      ...(fields ? { fields } : {}),
      purpose: request.purpose,
      requester,
      deadline: new Date(deadline).toISOString(),
    };
    const message = await this.deps.replies.request({
      topic: this.deps.topics.lookupRequests(provider),
      correlationId: lookupId,
      key: this.deps.subjectKey(request.certificateType, request.subject),
      value: JSON.stringify(envelope),
      deadline,
      headers: { 'content-type': 'application/json' },
    });
    return this.readReply(message, envelope, provider);
  }

  /**
   * Checks a reply in this order: JSON, the department's signature, the envelope's schema, that it
   * answers this lookup, the record's schema. A reply failing any check is dead-lettered and the
   * caller gets a 502 saying which check failed.
   */
  private async readReply(
    message: IncomingMessage,
    request: LookupRequestEnvelope,
    provider: string,
  ): Promise<ProviderRecord> {
    let reply: LookupReplyEnvelope;
    let signed: VerifiedReply;
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(message.value);
      } catch {
        // Not JSON.parse's message: it quotes the input, which may hold personal data.
        throw new UnusableReply('invalid-provider-reply', 'the reply is not valid JSON');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new UnusableReply('invalid-provider-reply', 'the reply is not a JSON object');
      }
      try {
        signed = await this.deps.signatures.verifyReply(parsed as Record<string, unknown>, provider);
      } catch (error) {
        if (!(error instanceof SignatureRefusal)) throw error;
        throw new UnusableReply('provider-signature-invalid', error.message);
      }
      const verdict = this.deps.catalog.validateEnvelope('lookup-reply', parsed);
      if (!verdict.ok) {
        throw new UnusableReply(
          'invalid-provider-reply',
          verdict.errors.map((e) => `${e.pointer} ${e.reason}`).join('; '),
        );
      }
      reply = parsed as LookupReplyEnvelope;
      if (reply.lookupId !== request.lookupId || reply.certificateType !== request.certificateType) {
        throw new UnusableReply(
          'mismatched-provider-reply',
          `the reply answers lookup ${reply.lookupId} for ${reply.certificateType}, not this one`,
        );
      }
      if (reply.outcome === 'found') {
        if (reply.schemaVersion !== request.schemaVersion) {
          throw new UnusableReply(
            'invalid-provider-record',
            `schema version ${reply.schemaVersion} was asked as ${request.schemaVersion}`,
          );
        }
        const record = this.deps.catalog.validateRecord(
          request.certificateType,
          request.schemaVersion,
          reply.record,
        );
        if (!record.ok) {
          throw new UnusableReply(
            'invalid-provider-record',
            record.errors.map((e) => `/record${e.pointer} ${e.reason}`).join('; '),
          );
        }
      }
    } catch (caught) {
      // The registry or the bus failing is the gateway's problem, not the department's.
      if (caught instanceof GatewayError) throw caught;
      let error = caught;
      if (!(error instanceof UnusableReply)) {
        // E.g. a reply nested too deeply to check: still the department's reply that cannot be used.
        this.deps.logger.warn({ err: error }, 'provider reply could not be checked');
        error = new UnusableReply('invalid-provider-reply', 'the reply could not be checked');
      }
      const unusable = error as UnusableReply;
      await this.deadLetter(message, unusable.message);
      throw new BadGatewayError(
        `${UNUSABLE_REPLY_DETAIL[unusable.problem](provider, request.certificateType)} (${unusable.message}); it was set aside for the department to fix.`,
        unusable.problem,
        { provider },
      );
    }
    if (reply.outcome === 'not-found') {
      throw new NotFoundError(
        `Department '${provider}' holds no ${request.certificateType} for this subject.`,
        'record-not-found',
        { provider },
      );
    }
    if (reply.outcome === 'error') {
      throw new BadGatewayError(
        `Department '${provider}' could not answer: ${reply.error?.code ?? 'error'}.`,
        'provider-error',
        { provider, providerError: reply.error?.code },
      );
    }
    return { record: reply.record, schemaVersion: reply.schemaVersion, signed };
  }

  private async deadLetter(message: IncomingMessage, reason: string): Promise<void> {
    this.deps.logger.warn(
      { topic: message.topic, offset: message.offset, reason },
      'provider reply dead-lettered',
    );
    try {
      await this.deps.bus.publish(this.deps.topics.deadLetters, [
        {
          key: message.key,
          value: message.value,
          headers: { ...message.headers, [DEAD_LETTER_REASON_HEADER]: reason.slice(0, 1000) },
        },
      ]);
    } catch (error) {
      this.deps.logger.error({ err: error }, 'could not publish to the dead-letter topic');
    }
  }
}

/** The requested fields, narrowed to what the policy allows (undefined = everything). */
function narrowFields(requested: string[] | undefined, allowed: string[] | undefined): string[] | undefined {
  if (!allowed) return requested;
  if (!requested) return allowed;
  return requested.filter((field) => allowed.includes(field));
}

function project(record: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((field) => field in record).map((field) => [field, record[field]]));
}

/**
 * What of `record` a requester receives: the fields it asked for (`requested`, undefined = all) that
 * the policy grants, masked as the policy says. The one place records (and change notices) are cut.
 */
export function releasedPart(
  record: Record<string, unknown>,
  requested: string[] | undefined,
  decision: Pick<PolicyDecision, 'fields' | 'mask'>,
): Record<string, unknown> {
  const fields = narrowFields(requested, decision.fields);
  const visible = fields ? project(record, fields) : record;
  return decision.mask ? decision.mask(visible) : visible;
}
