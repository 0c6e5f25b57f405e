/**
 * The bus over Apache Kafka, through kafkajs (the contract in bus.ts). Delivery is at least once:
 * a message's offset is committed only after its handler settled (kafkajs autoCommit commits the
 * offsets eachMessage resolved, after each batch), and a handler's exception is logged and the
 * message skipped. Publishes to one topic in the same event-loop turn share one produce request.
 * Topics are never auto-created. Every subscription is its own consumer
 * (`partitionsConsumedConcurrently` = the subscription's concurrency, so one partition's messages
 * stay in order); the producer and the admin client are shared and connected on first use.
 * TLS and SASL come from `security` (KAFKA_SSL*, KAFKA_SASL_* in config.ts); a refused login is a
 * KafkaAuthenticationError from whichever call first connected, never a retry loop.
 */
import {
  type Admin,
  type Consumer,
  type ConsumerCrashEvent,
  type IHeaders,
  Kafka,
  type KafkaMessage,
  type logCreator,
  logLevel,
  Partitioners,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type {
  Bus,
  BusHeaders,
  BusLogger,
  IncomingMessage,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  TopicRetention,
} from './bus.js';
import { UnknownTopicError } from './bus.js';

export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** How the client reaches the brokers: TLS and a SASL login (both off by default). */
export interface KafkaSecurity {
  /** TLS: `true` trusts the system's CAs; `{ ca }` trusts only this PEM bundle (a private CA). */
  ssl: boolean | { ca: string };
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
}

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
}

const CLIENT_LOG_LEVELS = {
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};
/** Bounds how long an idle consumer waits before it sees a new message: request-reply latency. */
const MAX_WAIT_MS = 100;
const MAX_RESTART_DELAY_MS = 30_000;
/** Also how soon a member notices a rebalance, so joins and leaves settle in about a second. */
const HEARTBEAT_INTERVAL_MS = 1_000;

export function createKafkaBus(options: KafkaBusOptions): Bus {
  return new KafkaBus(options);
}

/** The brokers refused the SASL login: wrong user name or password, or a mechanism they do not enable. */
export class KafkaAuthenticationError extends Error {
  override readonly name = 'KafkaAuthenticationError';
}

class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly logger: BusLogger;
  private readonly admin: LazyClient<Admin>;
  private readonly producer: LazyClient<Producer>;
  private readonly subscriptions = new Set<KafkaSubscription>();
  /** Messages published this event-loop turn, per topic, and the send they go out with. */
  private readonly sendQueue = new Map<string, { messages: OutgoingMessage[]; sent: Promise<void> }>();
  /** Topics seen to exist, so publish asks the cluster only about new names. */
  private readonly knownTopics = new Set<string>();
  private closing: Promise<void> | undefined;

  constructor(private readonly options: KafkaBusOptions) {
    this.logger = options.logger;
    const { ssl = false, sasl } = options.security ?? {};
    if (sasl?.mechanism === 'plain' && ssl === false) {
      this.logger.warn(
        { brokers: options.brokers, username: sasl.username },
        'Kafka SASL PLAIN without TLS sends the password in clear: turn TLS on',
      );
    }
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      ssl: typeof ssl === 'boolean' ? ssl : { ca: [ssl.ca] },
      // A copy, as kafkajs stores its authenticator on the object; cast, as kafkajs types `sasl` as a
      // union per mechanism literal, which one object with a union-typed mechanism does not match.
      ...(sasl && { sasl: { ...sasl } as SASLOptions }),
      logLevel: CLIENT_LOG_LEVELS[options.clientLogLevel ?? 'warn'],
      logCreator: busLogCreator(options.logger),
      retry: { initialRetryTime: 100, retries: 5 },
    });
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
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    await this.assertTopicsExist([topic]);
    // kafkajs has no linger: every send() is its own produce request, with its own broker and
    // event-loop cost. Publishes to one topic in the same event-loop turn share one request: no added
    // latency when idle, several messages per request under load.
    let batch = this.sendQueue.get(topic);
    if (!batch) {
      const queued: OutgoingMessage[] = [];
      const sent = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.sendQueue.delete(topic);
        return this.send(topic, queued);
      });
      batch = { messages: queued, sent };
      this.sendQueue.set(topic, batch);
    }
    batch.messages.push(...messages);
    return batch.sent;
  }

  private async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    const producer = await this.producer.get().catch(this.explain);
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: messages.map((message) => ({
          key: message.key ?? null,
          value: message.value,
          headers: message.headers,
        })),
      });
    } catch (error) {
      if (errorType(error) !== 'UNKNOWN_TOPIC_OR_PARTITION') this.explain(error);
      this.knownTopics.delete(topic);
      throw new UnknownTopicError(topic);
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
      { ...options, concurrency },
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

/** One subscribe() call: a kafkajs consumer, replaced by a fresh one if kafkajs gives up on it. */
class KafkaSubscription implements Subscription {
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private failReady!: (error: Error) => void;
  private consumer: Consumer | undefined;
  private running = false;
  private stopping: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: SubscribeOptions & { concurrency: number },
    private readonly logger: BusLogger,
    private readonly explain: (error: unknown) => never,
    private readonly onStopped: () => void,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    // Nobody has to await ready; a stop before readiness must not become an unhandled rejection.
    this.ready.catch(() => {});
  }

  isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    const { groupId, topics, fromBeginning = false, concurrency } = this.options;
    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: HEARTBEAT_INTERVAL_MS,
      maxWaitTimeInMs: MAX_WAIT_MS,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
      this.running = !this.stopping;
    });
    // After the join, the first completed fetch has resolved the start offsets: from here on no
    // newly published message can be missed, which is what `ready` promises.
    consumer.on(consumer.events.FETCH, () => {
      if (joined) this.markReady();
    });
    consumer.on(consumer.events.CRASH, (event: ConsumerCrashEvent) => this.onCrash(consumer, event));

    await consumer.connect().catch(this.explain);
    await subscribeWhenKnown(consumer, topics, fromBeginning);
    await consumer.run({
      partitionsConsumedConcurrently: concurrency,
      eachMessage: async ({ topic, partition, message, heartbeat }) => {
        const incoming = toIncomingMessage(topic, partition, message);
        // kafkajs heartbeats only between messages: a handler slower than the session timeout
        // would get this member evicted and its messages handled twice.
        const ticker = setInterval(() => void heartbeat().catch(() => {}), HEARTBEAT_INTERVAL_MS);
        try {
          await this.options.handle(incoming);
        } catch (error) {
          // Returning normally lets kafkajs commit past the message: a poison message must not
          // be redelivered forever or stop the consumer.
          this.logger.error(
            { err: error, topic, partition, offset: message.offset, groupId },
            'bus message handler failed; message skipped',
          );
        } finally {
          clearInterval(ticker);
        }
      },
    });
    // stop() may have been called while this was connecting.
    this.running = !this.stopping;
    this.failures = 0;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.running = false;
      clearTimeout(this.restartTimer);
      this.failReady(new Error(`Subscription of group ${this.options.groupId} stopped before it was ready.`));
      await this.consumer?.disconnect().catch((error: unknown) => {
        this.logger.warn(
          { err: error, groupId: this.options.groupId },
          'kafka consumer did not disconnect cleanly',
        );
      });
      this.onStopped();
    })();
    return this.stopping;
  }

  private onCrash(consumer: Consumer, { payload }: ConsumerCrashEvent): void {
    this.running = false;
    // kafkajs restarts by itself after retriable errors; after others it gives up, but a gateway
    // must keep consuming (e.g. once an ACL is fixed), so start over with a fresh consumer.
    if (payload.restart || this.stopping || consumer !== this.consumer) return;
    this.scheduleRestart(payload.error);
  }

  private scheduleRestart(error: unknown): void {
    const delayMs = Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** this.failures++);
    this.logger.error(
      { err: error, groupId: this.options.groupId, topics: this.options.topics, delayMs },
      'kafka consumer stopped after a non-retriable error; restarting it',
    );
    this.restartTimer = setTimeout(async () => {
      if (this.stopping) return;
      await this.consumer?.disconnect().catch(() => {});
      await this.start().catch((startError: unknown) => {
        if (!this.stopping) this.scheduleRestart(startError);
      });
    }, delayMs);
  }
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

function toIncomingMessage(topic: string, partition: number, message: KafkaMessage): IncomingMessage {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString('utf8') ?? undefined,
    value: message.value?.toString('utf8') ?? '',
    headers: decodeHeaders(message.headers),
    timestamp: Number(message.timestamp),
  };
}

function decodeHeaders(headers: IHeaders = {}): BusHeaders {
  const decoded: BusHeaders = {};
  for (const [name, raw] of Object.entries(headers)) {
    // A repeated header: the last one wins, as with Spring's lastHeader().
    const value = Array.isArray(raw) ? raw.at(-1) : raw;
    if (value !== undefined) decoded[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return decoded;
}

const NO_LOGIN_HINT =
  ' (the broker closed the connection: does its listener require a SASL login or TLS that this client is not configured for?)';

/**
 * A refused SASL login becomes a KafkaAuthenticationError naming the user (kafkajs does not retry
 * it, so it surfaces at once), with kafkajs's reason in its message rather than as its cause, which
 * pino would print a second time. A connection the broker closed, from a client without SASL, gets a
 * hint: that is what a SASL listener does to a client that does not log in.
 */
function explainConnectionError(error: unknown, sasl: KafkaSecurity['sasl']): unknown {
  if (!(error instanceof Error) || error instanceof KafkaAuthenticationError) return error;
  const names = causes(error).map((cause) => cause.name);
  if (names.includes('KafkaJSSASLAuthenticationError') && sasl) {
    return new KafkaAuthenticationError(
      `Kafka refused the SASL credentials for user "${sasl.username}" ` +
        `(${sasl.mechanism.toUpperCase()}): ${error.message}`,
    );
  }
  if (names.includes('KafkaJSConnectionClosedError') && !sasl && !error.message.endsWith(NO_LOGIN_HINT)) {
    error.message += NO_LOGIN_HINT;
  }
  return error;
}

/** The error and its causes (kafkajs wraps the last failure in KafkaJSNumberOfRetriesExceeded). */
function causes(error: Error): Error[] {
  const chain: Error[] = [];
  for (let current: unknown = error; current instanceof Error && chain.length < 10; ) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function errorType(error: unknown): string | undefined {
  let current: unknown = error;
  // kafkajs wraps the broker's error in KafkaJSNumberOfRetriesExceeded (cause chain).
  while (current instanceof Error) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
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
const SUBSCRIBE_ATTEMPTS = 8;

/**
 * consumer.subscribe() reads the topics' metadata once and does not retry. Right after a topic was
 * created (here or by another process) the broker can still answer UNKNOWN_TOPIC_OR_PARTITION for it
 * (seen on KRaft: the new metadata has not reached the broker's cache yet). Retry that, briefly.
 */
async function subscribeWhenKnown(consumer: Consumer, topics: string[], fromBeginning: boolean) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await consumer.subscribe({ topics, fromBeginning });
      return;
    } catch (error) {
      if (errorType(error) !== 'UNKNOWN_TOPIC_OR_PARTITION' || attempt >= SUBSCRIBE_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    }
  }
}

function topicConfig(retention: TopicRetention): Array<{ name: string; value: string }> {
  const entries: Array<{ name: string; value: string }> = [];
  if (retention.compacted) entries.push({ name: 'cleanup.policy', value: 'compact' });
  if (retention.retentionMs !== undefined)
    entries.push({ name: 'retention.ms', value: String(retention.retentionMs) });
  return entries;
}
