/**
 * The connector runtime a department runs: consumes its department's lookup requests as one member of
 * the department's consumer group, hands each to the handler for its certificate type, and replies on
 * the requester's reply topic. It depends only on the Bus interface, so it runs on Kafka and in-process.
 *
 * Guarantees: a request's offset is committed only after its reply is produced (the bus commits only
 * what its handler has finished); a handler error becomes an `error` reply, never a crash; requests
 * past their deadline are dropped unanswered (the gateway has already given up); at most `concurrency`
 * requests are handled at once; stop() announces `down` and lets in-flight requests finish.
 *
 * The same connector also publishes the department's change events (publishChange: a record it holds
 * was revoked, expired or amended), signed with the same key, for the certificate types it answers.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type Bus,
  type IncomingMessage,
  type Subscription,
  UnknownTopicError,
} from '../../gateway/protocol/bus.js';
import { DEPARTMENT_CODE_PATTERN } from '../../gateway/protocol/codes.js';
import type { DepartmentSigner } from '../../gateway/protocol/department-signature.js';
import type { LookupRequestEnvelope, RecordChangeEnvelope } from '../../gateway/protocol/envelopes.js';
import type { Logger } from '../../gateway/protocol/logger.js';
import { ensureSharedTopics, REPLY_TOPIC_HEADER, topicNames } from '../../gateway/protocol/topics.js';
import type { CertificateHandler } from './certificate-handler.js';
import {
  buildChangeEvent,
  type ChangeValidator,
  publishChangeEvent,
  type RecordChange,
  RecordChangeError,
} from './change-events.js';
import { publishDeadLetter } from './dead-letters.js';
import { createHeartbeats, type Heartbeats } from './heartbeats.js';
import { createLimiter } from './limiter.js';
import { buildReply, type ReplyOutcome, sendReply } from './replies.js';
import { type EnvelopeVerdict, parseRequest, type RequestValidator } from './request-envelope.js';
import { failureOutcome, runWithDeadline } from './run-handler.js';

export interface ConnectorOptions {
  bus: Bus;
  /** Department code, e.g. `market-regulation`: names the request topic and the consumer group. */
  department: string;
  /** Unique per running instance; default `<host>-<pid>-<random>`. */
  instanceId?: string;
  topicPrefix: string;
  /**
   * Signs replies, heartbeats and change events for the department (createDepartmentSigner from
   * gateway/protocol/department-signature.ts): a key of one of the department's `connector` systems.
   */
  signer: DepartmentSigner;
  /** Certificate type -> the handler answering it. */
  handlers: Record<string, CertificateHandler>;
  /** Requests handled at once by this instance. Default 8. */
  concurrency?: number;
  /**
   * Default 2000 ms; gateways consider the instance gone after three missed heartbeats, so a killed
   * instance's department gets 503 at once after 6 s instead of lookups waiting out their deadline.
   */
  heartbeatIntervalMs?: number;
  /** A handler still running after this long is abandoned with an `adapter-failed` reply. Default 30 s. */
  handlerTimeoutMs?: number;
  logger: Logger;
  /** Full schema check of request envelopes; without it only the properties the runtime uses are checked. */
  validateRequest?: RequestValidator;
  /** Checks a found record before it is sent, so a mapping mistake shows up in the department's logs. */
  validateRecord?: (certificateType: string, schemaVersion: number, record: unknown) => EnvelopeVerdict;
  /**
   * Full schema check of the signed change events publishChange sends, e.g.
   * `(v) => catalog.validateEnvelope('record-change', v)`: a mistake then fails the call, in the
   * department's hands, instead of becoming a dead letter at the gateway.
   */
  validateChange?: ChangeValidator;
}

export interface ConnectorStats {
  replied: { found: number; notFound: number; error: number };
  deadLettered: number;
  expired: number;
  /** Change events published (publishChange). */
  changes: number;
}

export interface Connector {
  readonly department: string;
  readonly instanceId: string;
  readonly requestTopic: string;
  readonly groupId: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): ConnectorStats;
  /**
   * Publishes a signed change event on the department's change topic, for a certificate type this
   * connector answers (its schema version is the handler's), keyed by its changeId; resolves with the
   * envelope as published once the bus has stored it. Rejects with a RecordChangeError, having sent
   * nothing, for a type it does not answer, an invalid change, or a connector not running.
   */
  publishChange(change: RecordChange): Promise<RecordChangeEnvelope>;
}

const REPLY_COUNTERS = {
  found: 'found',
  'not-found': 'notFound',
  error: 'error',
} as const satisfies Record<ReplyOutcome['outcome'], keyof ConnectorStats['replied']>;

// As in schemas/envelopes: codes name topics; an instance id is the part after '/' in heartbeat keys.
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function createConnector(options: ConnectorOptions): Connector {
  const { bus, department } = options;
  if (!DEPARTMENT_CODE_PATTERN.test(department)) {
    throw new Error(
      `invalid department code ${JSON.stringify(department)}: use lower-case letters, digits and -`,
    );
  }
  const handlers = new Map(Object.entries(options.handlers));
  if (handlers.size === 0) throw new Error(`connector for ${department} has no certificate handlers`);
  if (options.signer.department !== department) {
    throw new Error(
      `the signing key ${options.signer.keyId} belongs to department ${options.signer.department}, not ${department}`,
    );
  }
  const instanceId = options.instanceId ?? defaultInstanceId();
  if (!INSTANCE_ID.test(instanceId)) {
    throw new Error(
      `invalid instanceId ${JSON.stringify(instanceId)}: use letters, digits, '.', '_' and '-'`,
    );
  }
  const topics = topicNames(options.topicPrefix);
  const requestTopic = topics.lookupRequests(department);
  const replyTopicPrefix = topics.lookupReplies('');
  const groupId = topics.connectorGroup(department);
  const concurrency = options.concurrency ?? 8;
  const limiter = createLimiter(concurrency);
  const handlerTimeoutMs = options.handlerTimeoutMs ?? 30_000;
  const logger = options.logger.child({ department, instanceId });
  const stats: ConnectorStats = {
    replied: { found: 0, notFound: 0, error: 0 },
    deadLettered: 0,
    expired: 0,
    changes: 0,
  };
  const inFlight = new Set<Promise<void>>();
  const changeTopic = topics.recordChanges(department);
  // Change events being published: stop() waits for them, so none is cut off by closing the bus.
  const publishing = new Set<Promise<unknown>>();
  const heartbeats: Heartbeats = createHeartbeats({
    bus,
    topic: topics.heartbeats,
    department,
    instanceId,
    certificateTypes: [...handlers].map(([certificateType, handler]) => ({
      certificateType,
      schemaVersion: handler.schemaVersion,
    })),
    intervalMs: options.heartbeatIntervalMs ?? 2000,
    signer: options.signer,
    inFlight: () => inFlight.size,
    logger,
  });
  let subscription: Subscription | undefined;
  let state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  let stopping: Promise<void> | undefined;

  const deadLetter = async (message: IncomingMessage, reason: string) => {
    stats.deadLettered += 1;
    await publishDeadLetter(bus, topics.deadLetters, message, reason, logger);
  };

  async function processRequest(message: IncomingMessage): Promise<void> {
    const parsed = parseRequest(message.value, options.validateRequest);
    if (!parsed.ok) return deadLetter(message, parsed.reason);
    const replyTopic = message.headers[REPLY_TOPIC_HEADER];
    if (!replyTopic) return deadLetter(message, `no ${REPLY_TOPIC_HEADER} header: nowhere to send the reply`);
    // A request must not make this connector write into arbitrary topics (another department's requests).
    if (!replyTopic.startsWith(replyTopicPrefix)) {
      return deadLetter(
        message,
        `${REPLY_TOPIC_HEADER} ${JSON.stringify(replyTopic)} is not a reply topic (${replyTopicPrefix}*)`,
      );
    }
    const { request, deadline } = parsed;
    const log = logger.child({ lookupId: request.lookupId, certificateType: request.certificateType });
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) {
      stats.expired += 1;
      log.info({ lateByMs: -remainingMs }, 'request dropped unanswered: its deadline had passed');
      return;
    }

    const handler = handlers.get(request.certificateType);
    let outcome: ReplyOutcome | 'expired';
    if (!handler) {
      outcome = {
        outcome: 'error',
        code: 'unsupported-certificate-type',
        message: `Department ${department} does not serve ${request.certificateType} on this connector.`,
      };
    } else if (handler.schemaVersion !== request.schemaVersion) {
      outcome = {
        outcome: 'error',
        code: 'unsupported-schema-version',
        message: `This connector answers ${request.certificateType} schema version ${handler.schemaVersion}, not ${request.schemaVersion}.`,
      };
    } else {
      outcome = await answer(handler, request, remainingMs, log);
    }
    if (outcome === 'expired') {
      stats.expired += 1;
      log.warn('handler did not answer before the deadline; no reply sent');
      return;
    }

    const reply = buildReply(request, handler?.schemaVersion ?? request.schemaVersion, outcome, {
      department,
      instanceId,
    });
    // Counted when handed to the bus, not when the broker's acknowledgement returns: the requester can
    // read the reply before that, and the stats must never lag behind what others already observe.
    const counter = REPLY_COUNTERS[outcome.outcome];
    stats.replied[counter] += 1;
    try {
      await sendReply(bus, replyTopic, message, reply, options.signer);
    } catch (error) {
      stats.replied[counter] -= 1;
      // The requesting gateway instance is gone with its reply topic: nobody waits for this answer.
      if (error instanceof UnknownTopicError) {
        log.warn({ replyTopic }, 'reply topic does not exist; reply dropped');
        return;
      }
      throw error;
    }
    log.debug({ outcome: outcome.outcome }, 'lookup answered');
  }

  async function answer(
    handler: CertificateHandler,
    request: LookupRequestEnvelope,
    remainingMs: number,
    log: Logger,
  ): Promise<ReplyOutcome | 'expired'> {
    const result = await runWithDeadline(handler, request, remainingMs, handlerTimeoutMs);
    if (result.kind === 'expired') return 'expired';
    if (result.kind === 'failed') return failureOutcome(result.error, log);
    const record = result.record;
    if (record === undefined || record === null) return { outcome: 'not-found' };
    if (typeof record !== 'object' || Array.isArray(record)) {
      log.error({ returned: typeof record }, 'handler returned something other than a record object');
      return {
        outcome: 'error',
        code: 'adapter-failed',
        message: 'The connector produced an invalid record.',
      };
    }
    const verdict = options.validateRecord?.(request.certificateType, request.schemaVersion, record);
    if (verdict && !verdict.ok) {
      log.error(
        { errors: verdict.errors },
        'record does not match the certificate schema; check the field mapping',
      );
      return {
        outcome: 'error',
        code: 'invalid-record',
        message: 'The department record does not match the certificate schema.',
      };
    }
    return { outcome: 'found', record };
  }

  async function publishChange(change: RecordChange): Promise<RecordChangeEnvelope> {
    // Before start() the topic may not exist yet; once stopping, the caller must not believe it sent.
    if (state !== 'running') {
      throw new RecordChangeError(
        'not-running',
        `connector ${department}/${instanceId} is ${state === 'new' || state === 'starting' ? 'not started' : 'stopped'}: publish changes between start() and stop()`,
      );
    }
    const handler = handlers.get(change?.certificateType);
    if (!handler) {
      // Gateways take change events only for types the department provides; this connector's
      // handlers are what it says it holds.
      throw new RecordChangeError(
        'unsupported-certificate-type',
        `connector ${department}/${instanceId} does not answer ${JSON.stringify(change?.certificateType)}, so it publishes no changes of it; it answers ${[...handlers.keys()].join(', ')}`,
      );
    }
    const event = buildChangeEvent(change, {
      department,
      schemaVersion: handler.schemaVersion,
      now: new Date(),
    });
    const sending = publishChangeEvent({
      bus,
      topic: changeTopic,
      event,
      signer: options.signer,
      validate: options.validateChange,
    });
    const settled = sending.catch(() => undefined);
    publishing.add(settled);
    void settled.then(() => publishing.delete(settled));
    const published = await sending;
    stats.changes += 1;
    // The change id, not the subject: identifiers stay out of logs.
    logger.info(
      { changeId: event.changeId, certificateType: event.certificateType, change: event.change },
      'change event published',
    );
    return published;
  }

  function handle(message: IncomingMessage): Promise<void> {
    const work = limiter.run(() => processRequest(message));
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    inFlight.add(settled);
    void settled.then(() => inFlight.delete(settled));
    return work;
  }

  return {
    department,
    instanceId,
    requestTopic,
    groupId,
    stats: () => structuredClone(stats),
    publishChange,

    async start() {
      if (state !== 'new') throw new Error(`connector ${department}/${instanceId} was already started`);
      state = 'starting';
      try {
        try {
          // Only creates what is missing: a gateway made these when the connector was registered.
          await ensureSharedTopics(bus, topics, [department]);
        } catch (error) {
          throw new Error(
            `cannot find or create the topics ${requestTopic}, ${changeTopic}, ${topics.heartbeats} and ${topics.deadLetters} (${(error as Error).message}). If they do not exist yet, register the connector (POST /v1/connectors or silobridge connector register): the gateway creates them. If they do, check this connector's Kafka credentials and ACLs (silobridge kafka acls).`,
            { cause: error },
          );
        }
        // From the beginning: a new group must not miss requests sent before its first join; any that
        // waited too long are dropped by their deadline.
        subscription = await bus.subscribe({
          topics: [requestTopic],
          groupId,
          fromBeginning: true,
          concurrency,
          handle,
        });
        await subscription.ready;
        // Announce only once consuming, so gateways never route to an instance that cannot answer yet.
        await heartbeats.start();
      } catch (error) {
        state = 'stopped';
        await subscription?.stop().catch(() => {});
        throw error;
      }
      state = 'running';
      logger.info(
        { requestTopic, groupId, certificateTypes: [...handlers.keys()], concurrency },
        'connector started',
      );
    },

    stop() {
      if (state === 'new' || state === 'stopped') return stopping ?? Promise.resolve();
      stopping ??= (async () => {
        state = 'stopping';
        await heartbeats.stop();
        await subscription?.stop();
        // The bus waits for the handlers it started; this also covers a bus that does not.
        await Promise.all(inFlight);
        await Promise.all(publishing);
        state = 'stopped';
        logger.info(stats, 'connector stopped');
      })();
      return stopping;
    },
  };
}

/** Host, process and a random part: unique even for several connectors in one process. */
function defaultInstanceId(): string {
  const host = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 40);
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
