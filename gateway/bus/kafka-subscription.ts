/**
 * One Bus.subscribe() on Kafka: a kafkajs consumer in the subscription's group. `ready` resolves after
 * the group join and the first completed fetch; a consumer kafkajs gives up on is replaced by a fresh
 * one with exponential back-off. A handler's exception is logged and its message skipped (committed).
 */
import type { Consumer, ConsumerCrashEvent, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import type {
  BusHeaders,
  BusLogger,
  IncomingMessage,
  SubscribeOptions,
  Subscription,
} from '../protocol/bus.js';
import { errorType } from './kafka-errors.js';

/** Bounds how long an idle consumer waits before it sees a new message: request-reply latency. */
const MAX_WAIT_MS = 100;
const MAX_RESTART_DELAY_MS = 30_000;
/** Also how soon a member notices a rebalance, so joins and leaves settle in about a second. */
const HEARTBEAT_INTERVAL_MS = 1_000;
/**
 * How long the group coordinator waits for a member that vanished without leaving (a killed process,
 * a broker restart) before it rebalances without it: until then, the partitions it held are not
 * consumed. 6 s is the broker's lowest allowed (group.min.session.timeout.ms), six heartbeats.
 */
const SESSION_TIMEOUT_MS = 6_000;
const SUBSCRIBE_ATTEMPTS = 8;

/** One subscribe() call: a kafkajs consumer, replaced by a fresh one if kafkajs gives up on it. */
export class KafkaSubscription implements Subscription {
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
      sessionTimeout: SESSION_TIMEOUT_MS,
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
