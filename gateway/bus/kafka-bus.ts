/**
 * The bus over Apache Kafka, through kafkajs (the contract in gateway/protocol/bus.ts). Delivery is
 * at least once: a message's offset is committed only after its handler settled (every
 * `commitIntervalMs`, when a rebalance starts, and at stop: kafka-subscription.ts), and a handler's
 * exception is logged and the message skipped. Publishes in the same event-loop turn, whatever their
 * topics, share one produce request, split so that no request exceeds `maxRequestBytes` (below the broker's
 * `message.max.bytes`). Topics are never auto-created. Every subscription is its own consumer
 * (kafka-subscription.ts); the producer and the admin client are shared and connected on first use.
 * TLS and SASL come from `security` (KAFKA_SSL*, KAFKA_SASL_* in gateway/foundation/config.ts); a
 * refused login is a KafkaAuthenticationError from whichever call first connected, never a retry loop.
 * createKafkaClient() builds the kafkajs client with those settings, for the bus and for kafka-acls.ts.
 */
import kafkajs, {
  type Admin,
  Kafka,
  type logCreator,
  logLevel,
  Partitioners,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { KafkaSecurity } from '../foundation/config.js';
import type {
  Bus,
  BusLogger,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  TopicRetention,
} from '../protocol/bus.js';
import { UnknownTopicError } from '../protocol/bus.js';
import { errorType, explainConnectionError } from './kafka-errors.js';
import { KafkaSubscription } from './kafka-subscription.js';

export { KafkaAuthenticationError } from './kafka-errors.js';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  logger: BusLogger;
  /** TLS and SASL; default neither (PLAINTEXT). */
  security?: KafkaSecurity;
  /** The least severe kafkajs log line passed on to `logger`. Default 'warn'. */
  clientLogLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** How long check() waits for the cluster. Default 2000 ms. */
  checkTimeoutMs?: number;
  /**
   * The most message bytes (keys, values, headers, and a generous allowance for each record's
   * framing) that publishes coalesced in one event-loop turn put into one produce request; more
   * go out as several requests in the same turn. Keep it below the broker's (and topic's)
   * `message.max.bytes`, else the broker refuses the whole request (MESSAGE_TOO_LARGE). Default
   * DEFAULT_MAX_REQUEST_BYTES, 1,000,000: under the broker's default of 1,048,588. A single message
   * larger than this still goes out, alone.
   */
  maxRequestBytes?: number;
  /**
   * How often each subscription commits the offsets of the messages it has handled. Default
   * DEFAULT_COMMIT_INTERVAL_MS, 1000. Longer: fewer OffsetCommit requests; but after a crash, or a
   * rebalance whose commit loses the race with the rejoin, a partition's next owner reads up to this
   * long's worth of already handled messages again. 0: commit as soon as each message is handled.
   */
  commitIntervalMs?: number;
}

/** Below Kafka's default `message.max.bytes` (1,048,588), with room for the record batch header. */
export const DEFAULT_MAX_REQUEST_BYTES = 1_000_000;

/** One OffsetCommit a second per subscription at most, instead of one per fetched batch. */
export const DEFAULT_COMMIT_INTERVAL_MS = 1000;

const CLIENT_LOG_LEVELS = {
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};
export function createKafkaBus(options: KafkaBusOptions): Bus {
  return new KafkaBus(options);
}

/** What any SiloBridge kafkajs client is built from: the bus's options without its own tuning. */
export type KafkaClientOptions = Pick<
  KafkaBusOptions,
  'brokers' | 'clientId' | 'logger' | 'security' | 'clientLogLevel'
>;

/**
 * A kafkajs client with SiloBridge's TLS, SASL, logging and retry settings: the one place they are
 * built, for the bus and for other Kafka work (kafka-acls.ts). Warns when SASL PLAIN would send the
 * password in clear.
 */
/**
 * kafkajs 2.2.4 schedules a timer with a negative delay (tulios/kafkajs#1751), which Node.js 24 and
 * later run after 1 ms, as kafkajs means, but also report with a TimeoutNegativeWarning on stderr of
 * every process that connects. Only that warning is dropped, and only once a Kafka client exists.
 */
let negativeTimeoutWarningSilenced = false;
function silenceKafkajsNegativeTimeoutWarning(): void {
  if (negativeTimeoutWarningSilenced) return;
  negativeTimeoutWarningSilenced = true;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const options = rest[0];
    const type =
      warning instanceof Error
        ? warning.name
        : typeof options === 'string'
          ? options
          : (options as { type?: string } | undefined)?.type;
    if (type === 'TimeoutNegativeWarning') return;
    emitWarning(warning, ...rest);
  }) as typeof process.emitWarning;
}

export function createKafkaClient(options: KafkaClientOptions): Kafka {
  silenceKafkajsNegativeTimeoutWarning();
  const { ssl = false, sasl } = options.security ?? {};
  if (sasl?.mechanism === 'plain' && ssl === false) {
    options.logger.warn(
      { brokers: options.brokers, username: sasl.username },
      'Kafka SASL PLAIN without TLS sends the password in clear: turn TLS on',
    );
  }
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ssl: typeof ssl === 'boolean' ? ssl : { ca: [ssl.ca] },
    // A copy, as kafkajs stores its authenticator on the object; cast, as kafkajs types `sasl` as a
    // union per mechanism literal, which one object with a union-typed mechanism does not match.
    ...(sasl && { sasl: { ...sasl } as SASLOptions }),
    logLevel: CLIENT_LOG_LEVELS[options.clientLogLevel ?? 'warn'],
    logCreator: busLogCreator(options.logger),
    // maxRetryTime also caps how long a crashed consumer waits before it restarts (kafkajs takes
    // its last backoff): after a broker outage, consumers rejoin within 2 s of its return.
    retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 2000 },
  });
}

class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly logger: BusLogger;
  private readonly admin: LazyClient<Admin>;
  private readonly producer: LazyClient<Producer>;
  private readonly subscriptions = new Set<KafkaSubscription>();
  /** The produce requests that messages published this event-loop turn go out in, all topics together. */
  private turnQueue: PendingRequest[] | undefined;
  private readonly maxRequestBytes: number;
  private readonly commitIntervalMs: number;
  /** Topics seen to exist, so publish asks the cluster only about new names. */
  private readonly knownTopics = new Set<string>();
  private closing: Promise<void> | undefined;

  constructor(private readonly options: KafkaBusOptions) {
    this.logger = options.logger;
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    if (!(this.maxRequestBytes > 0)) {
      throw new Error(`maxRequestBytes must be a positive number, not ${options.maxRequestBytes}.`);
    }
    this.commitIntervalMs = options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
    if (!Number.isInteger(this.commitIntervalMs) || this.commitIntervalMs < 0) {
      throw new Error(`commitIntervalMs must be a whole number >= 0, not ${options.commitIntervalMs}.`);
    }
    this.kafka = createKafkaClient(options);
    this.admin = new LazyClient(() => this.kafka.admin());
    // Not idempotent: kafkajs then retries without limit, so a publish to a deleted topic or a
    // down cluster would never settle. acks=-1 still waits for every in-sync replica, and a
    // duplicate from a retry is harmless (replies are matched by correlation id, lookups are reads).
    this.producer = new LazyClient(() =>
      this.kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
      }),
    );
  }

  async ensureTopics(topics: string[], partitions = 1, retention: TopicRetention = {}): Promise<void> {
    this.assertOpen();
    await this.createMissingTopics(topics, partitions, retention).catch(this.explain);
  }

  private async createMissingTopics(
    topics: string[],
    partitions: number,
    retention: TopicRetention,
  ): Promise<void> {
    const admin = await this.admin.get();
    const existing = new Set(await admin.listTopics());
    let missing = [...new Set(topics)].filter((topic) => !existing.has(topic));
    // Gateways and connectors start together and create the same topics: a creation can race another
    // one, or wait for leaders before the new metadata has reached the broker. Both settle on a retry.
    for (let attempt = 1; missing.length > 0; attempt += 1) {
      try {
        await admin.createTopics({
          topics: missing.map((topic) => ({
            topic,
            numPartitions: partitions,
            configEntries: topicConfig(retention),
          })),
          waitForLeaders: true,
        });
        break;
      } catch (error) {
        if (attempt >= ENSURE_TOPICS_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        const now = new Set(await admin.listTopics());
        missing = missing.filter((topic) => !now.has(topic));
      }
    }
    for (const topic of topics) this.knownTopics.add(topic);
    if (retention.applyToExisting && retention.retentionMs !== undefined) {
      await this.applyRetention(
        admin,
        [...existing].filter((topic) => topics.includes(topic)),
        retention.retentionMs,
      );
    }
  }

  /** Sets `retention.ms` on existing topics whose own setting differs (and only on those). */
  private async applyRetention(admin: Admin, topics: string[], retentionMs: number): Promise<void> {
    if (topics.length === 0) return;
    const TOPIC = kafkajs.ConfigResourceTypes.TOPIC;
    const { resources } = await admin.describeConfigs({
      resources: topics.map((name) => ({ type: TOPIC, name, configNames: ['retention.ms'] })),
      includeSynonyms: false,
    });
    const differing = resources
      .filter((resource) =>
        resource.configEntries.some(
          (entry) => entry.configName === 'retention.ms' && entry.configValue !== String(retentionMs),
        ),
      )
      .map((resource) => resource.resourceName);
    if (differing.length === 0) return;
    // alterConfigs replaces a topic's dynamic settings: request topics carry no other one.
    await admin.alterConfigs({
      validateOnly: false,
      resources: differing.map((name) => ({
        type: TOPIC,
        name,
        configEntries: [{ name: 'retention.ms', value: String(retentionMs) }],
      })),
    });
    this.logger.info({ topics: differing, retentionMs }, 'topic retention updated');
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    await this.assertTopicsExist([topic]);
    // kafkajs has no linger: every send() is its own produce request, with its own broker and
    // event-loop cost. Publishes in the same event-loop turn share one request, whatever their topics
    // (a lookup's request topic is its provider's, so lookups to several departments, or an evidence
    // bundle's items, go out together): no added latency when idle, several messages per request
    // under load. The broker refuses a request larger than its message.max.bytes as a whole, so a
    // turn's messages are split at maxRequestBytes into several requests, all sent when the turn ends.
    const requests = this.turnRequests();
    const waits = new Set<Promise<SendFailures>>();
    for (const message of messages) {
      const bytes = estimatedBytes(message);
      let request = requests.at(-1);
      if (!request || (request.bytes > 0 && request.bytes + bytes > this.maxRequestBytes)) {
        request = this.queueRequest(requests);
      }
      const queued = request.topics.get(topic);
      if (queued) queued.push(message);
      else request.topics.set(topic, [message]);
      request.bytes += bytes;
      waits.add(request.sent);
    }
    for (const failures of await Promise.all(waits)) {
      const failure = failures.get(topic);
      if (failure !== undefined) throw failure;
    }
  }

  /** This turn's produce requests, sent together once the turn ends. */
  private turnRequests(): PendingRequest[] {
    if (!this.turnQueue) {
      const queued: PendingRequest[] = [];
      this.turnQueue = queued;
      setImmediate(() => {
        this.turnQueue = undefined;
        for (const request of queued) request.flush();
      });
    }
    return this.turnQueue;
  }

  private queueRequest(requests: PendingRequest[]): PendingRequest {
    let flush!: () => void;
    const turnEnded = new Promise<void>((resolve) => {
      flush = resolve;
    });
    const request: PendingRequest = {
      topics: new Map(),
      bytes: 0,
      flush,
      sent: Promise.resolve(NO_FAILURES),
    };
    request.sent = turnEnded.then(() => this.send(request.topics));
    requests.push(request);
    return request;
  }

  /** Sends one produce request; resolves (never rejects) with the error each failed topic's publishers get. */
  private async send(topics: Map<string, OutgoingMessage[]>): Promise<SendFailures> {
    const topicMessages = [...topics].map(([topic, messages]) => ({
      topic,
      messages: messages.map((message) => ({
        key: message.key ?? null,
        value: message.value,
        headers: message.headers,
      })),
    }));
    try {
      const producer = await this.producer.get().catch(this.explain);
      await producer.sendBatch({ acks: -1, topicMessages });
      return NO_FAILURES;
    } catch (error) {
      if (topicMessages.length > 1 && errorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION') {
        // kafkajs fails the whole request for one topic's error (a topic deleted since it was
        // checked): send each topic on its own, so only that topic's publishers hear of it. A topic
        // the first request did write gets its messages twice, harmless as for kafkajs's own
        // retries (see the producer's settings in the constructor).
        const alone = await Promise.all(
          [...topics].map(([topic, messages]) => this.send(new Map([[topic, messages]]))),
        );
        return new Map(alone.flatMap((failures) => [...failures]));
      }
      const failure = this.publishError(
        topicMessages.length === 1 ? topicMessages[0]?.topic : undefined,
        error,
      );
      return new Map(topicMessages.map(({ topic }) => [topic, failure]));
    }
  }

  /** What publish() rejects with after a failed send: UnknownTopicError for a topic gone, else the error explained. */
  private publishError(topic: string | undefined, error: unknown): unknown {
    if (topic !== undefined && errorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION') {
      this.knownTopics.delete(topic);
      return new UnknownTopicError(topic);
    }
    try {
      return this.explain(error);
    } catch (explained) {
      return explained;
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(`concurrency must be a whole number >= 1, not ${options.concurrency}.`);
    }
    // kafkajs fails obscurely (or waits) when subscribing to a missing topic: say so plainly.
    await this.assertTopicsExist(options.topics);
    const subscription = new KafkaSubscription(
      this.kafka,
      { ...options, concurrency, commitIntervalMs: this.commitIntervalMs },
      this.logger,
      this.explain,
      () => this.subscriptions.delete(subscription),
    );
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      await subscription.stop();
      this.explain(error);
    }
    return subscription;
  }

  async check(): Promise<void> {
    this.assertOpen();
    const timeoutMs = this.options.checkTimeoutMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`Kafka (${this.options.brokers.join(',')}) did not answer within ${timeoutMs} ms.`),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([
        this.admin
          .get()
          .then((admin) => admin.describeCluster())
          .catch(this.explain),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.subscriptions].map((subscription) => subscription.stop()));
      await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
    })();
    return this.closing;
  }

  private async assertTopicsExist(topics: string[]): Promise<void> {
    const unknown = topics.filter((topic) => !this.knownTopics.has(topic));
    if (unknown.length === 0) return;
    const admin = await this.admin.get().catch(this.explain);
    const existing = new Set(await admin.listTopics().catch(this.explain));
    for (const topic of unknown) {
      if (!existing.has(topic)) throw new UnknownTopicError(topic);
      this.knownTopics.add(topic);
    }
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('The Kafka bus is closed.');
  }

  /** Rethrows a kafkajs failure, a refused or missing login said plainly (explainConnectionError). */
  private readonly explain = (error: unknown): never => {
    throw explainConnectionError(error, this.options.security?.sasl);
  };
}

/** One produce request being filled during an event-loop turn. */
interface PendingRequest {
  /** Its messages, by topic. */
  topics: Map<string, OutgoingMessage[]>;
  /** estimatedBytes() of its messages, summed. */
  bytes: number;
  /** Called once the turn has ended: `sent` then sends the request. */
  flush: () => void;
  /** Settles once the request was answered, with the topics that failed. */
  sent: Promise<SendFailures>;
}

/** The topics of a produce request that failed, with the error their publishers get. */
type SendFailures = ReadonlyMap<string, unknown>;
const NO_FAILURES: SendFailures = new Map();

/**
 * An upper bound on a message's share of a produce request: key, value and header bytes, plus the
 * most a record's framing can add (length, attributes, timestamp and offset deltas, key and value
 * lengths, header count: 36 bytes as varints; each header's two lengths: 10).
 */
function estimatedBytes(message: OutgoingMessage): number {
  let bytes = 36 + Buffer.byteLength(message.value) + (message.key ? Buffer.byteLength(message.key) : 0);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    bytes += 10 + Buffer.byteLength(name) + Buffer.byteLength(String(value));
  }
  return bytes;
}

/** A client connected on first use; a failed connection is dropped so the next use tries again. */
class LazyClient<T extends { connect(): Promise<void>; disconnect(): Promise<void> }> {
  private client: T | undefined;
  private connecting: Promise<T> | undefined;

  constructor(private readonly create: () => T) {}

  get(): Promise<T> {
    if (!this.connecting) {
      const client = this.create();
      this.client = client;
      const connecting = client.connect().then(() => client);
      this.connecting = connecting;
      connecting.catch(() => {
        if (this.connecting !== connecting) return;
        this.connecting = undefined;
        this.client = undefined;
        void client.disconnect().catch(() => {});
      });
    }
    return this.connecting;
  }

  async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connecting = undefined;
    await client?.disconnect();
  }
}

/** kafkajs log lines to the bus logger, with routine noise turned down. */
function busLogCreator(logger: BusLogger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
      const entry = { kafkajs: namespace, ...fields };
      const text = `kafkajs: ${message}`;
      // Connection logs every error response at ERROR, including the ones kafkajs retries
      // (coordinator loading, leader moving); a real failure reaches the caller as an exception.
      if (namespace === 'Connection' && message.startsWith('Response ')) return logger.debug(entry, text);
      if (message.startsWith('The group is rebalancing')) return logger.info(entry, text);
      if (level === logLevel.ERROR || level === logLevel.NOTHING) return logger.error(entry, text);
      if (level === logLevel.WARN) return logger.warn(entry, text);
      if (level === logLevel.INFO) return logger.info(entry, text);
      return logger.debug(entry, text);
    };
}

const ENSURE_TOPICS_ATTEMPTS = 5;

function topicConfig(retention: TopicRetention): Array<{ name: string; value: string }> {
  const entries: Array<{ name: string; value: string }> = [];
  if (retention.compacted) entries.push({ name: 'cleanup.policy', value: 'compact' });
  if (retention.retentionMs !== undefined)
    entries.push({ name: 'retention.ms', value: String(retention.retentionMs) });
  return entries;
}
