/**
 * One Bus.subscribe() on Kafka: a kafkajs consumer in the subscription's group. `ready` resolves after
 * the group join and the first completed fetch; a consumer kafkajs gives up on is replaced by a fresh
 * one with exponential back-off. A handler's exception is logged and its message skipped (committed).
 *
 * Offsets are committed here, not by kafkajs: its autoCommit sends an OffsetCommit after every fetched
 * batch whatever its interval says, which at low load is one request per message. A message counts as
 * handled once its handler has settled; what was handled is committed every `commitIntervalMs` (only
 * when something changed, one commit at a time), when a rebalance starts, and by stop() once the
 * handlers in progress have finished. Delivery stays at least once: after a crash, or a rebalance whose
 * commit lost the race with the rejoin, a partition's next owner reads up to one interval of handled
 * messages again.
 */
import type {
  Consumer,
  ConsumerCrashEvent,
  EachMessagePayload,
  IHeaders,
  Kafka,
  KafkaMessage,
  TopicOffsets,
} from 'kafkajs';
import type {
  BusHeaders,
  BusLogger,
  IncomingMessage,
  SubscribeOptions,
  Subscription,
} from '../protocol/bus.js';
import { HandledOffsets, type PartitionOffset } from './handled-offsets.js';
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
/**
 * How long stop() waits for handlers in progress before it commits what is done and leaves: a lookup's
 * default deadline. A handler still running then finishes all the same, but its message is not
 * committed and goes to the partition's next owner.
 */
const DRAIN_TIMEOUT_MS = 5_000;
/**
 * Commit failures that only mean the group is changing hands (the commit raced a rebalance, or the
 * coordinator moved): routine, and the offsets are committed by the next commit or the next owner.
 */
const REBALANCE_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
]);

/** Why a commit was asked for; logged with it. */
type CommitReason = 'interval' | 'message' | 'rebalance' | 'stop';

export interface KafkaSubscriptionOptions extends SubscribeOptions {
  concurrency: number;
  /** How often handled offsets are committed; 0: as soon as each message has been handled. */
  commitIntervalMs: number;
}

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
  /** What the current consumer handled, and how much of it the broker has acknowledged. */
  private readonly offsets = new HandledOffsets();
  private handlersRunning = 0;
  /** Set while stop() waits for handlersRunning to reach 0. */
  private onHandlersIdle: (() => void) | undefined;
  /** Set by stop(): messages kafkajs still hands over are left, uncommitted, to the next owner. */
  private draining = false;
  private commitTimer: NodeJS.Timeout | undefined;
  /** The latest commit started or queued: commits run one after another, never two at once. */
  private lastCommit: Promise<void> = Promise.resolve();
  /** A commit waiting for the one in progress; whoever asks meanwhile shares it. */
  private queuedCommit: Promise<void> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaSubscriptionOptions,
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
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      joined = true;
      this.running = !this.stopping;
      // A partition another member now holds is that member's to commit: a late commit from here
      // could move its commit point back behind what that member has handled since.
      this.offsets.retainOnly(payload.memberAssignment);
    });
    // After the join, the first completed fetch has resolved the start offsets: from here on no
    // newly published message can be missed, which is what `ready` promises.
    consumer.on(consumer.events.FETCH, () => {
      if (joined) this.markReady();
    });
    // kafkajs emits this right before it rejoins, with every handler of the last fetch settled:
    // committing now spares the partitions' next owners what this member has already handled. It
    // races the rejoin; should it lose, the next owner reads those messages again.
    consumer.on(consumer.events.REBALANCING, () => void this.commitHandled('rebalance'));
    consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) =>
      this.offsets.committed(flatten(payload.topics)),
    );
    consumer.on(consumer.events.CRASH, (event: ConsumerCrashEvent) => this.onCrash(consumer, event));

    await consumer.connect().catch(this.explain);
    await subscribeWhenKnown(consumer, topics, fromBeginning);
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: concurrency,
      eachMessage: (payload) => this.handleMessage(payload),
    });
    // stop() may have been called while this was connecting.
    this.running = !this.stopping;
    this.failures = 0;
    this.startCommitTimer();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.running = false;
      clearTimeout(this.restartTimer);
      this.failReady(new Error(`Subscription of group ${this.options.groupId} stopped before it was ready.`));
      await this.finishHandling();
      clearInterval(this.commitTimer);
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

  private async handleMessage({ topic, partition, message, heartbeat }: EachMessagePayload): Promise<void> {
    // stop() is under way: leave the message uncommitted for the partition's next owner.
    if (this.draining) return;
    this.handlersRunning += 1;
    // kafkajs heartbeats only between messages: a handler slower than the session timeout would get
    // this member evicted and its messages handled twice.
    const ticker = setInterval(() => void heartbeat().catch(() => {}), HEARTBEAT_INTERVAL_MS);
    try {
      await this.options.handle(toIncomingMessage(topic, partition, message));
    } catch (error) {
      // Handled all the same, so committed past: a poison message must not be redelivered forever
      // or stop the consumer.
      this.logger.error(
        { err: error, topic, partition, offset: message.offset, groupId: this.options.groupId },
        'bus message handler failed; message skipped',
      );
    } finally {
      clearInterval(ticker);
      // Before the count drops: stop() commits once it reaches 0, and this message must be in it.
      this.offsets.handled(topic, partition, message.offset);
      this.handlersRunning -= 1;
      if (this.handlersRunning === 0) this.onHandlersIdle?.();
    }
    if (this.options.commitIntervalMs === 0) void this.commitHandled('message');
  }

  private startCommitTimer(): void {
    if (this.commitTimer || this.stopping || this.options.commitIntervalMs === 0) return;
    this.commitTimer = setInterval(() => {
      if (this.offsets.hasUncommitted()) void this.commitHandled('interval');
    }, this.options.commitIntervalMs);
    // Not a reason to keep the process alive: stop() commits what is left.
    this.commitTimer.unref();
  }

  /**
   * Commits every offset handled so far, after the commit in progress if there is one. Whoever asks
   * while a commit waits to start shares that one: it will include their offsets. Never rejects.
   */
  private commitHandled(reason: CommitReason): Promise<void> {
    if (!this.queuedCommit) {
      const queued = this.lastCommit.then(() => {
        this.queuedCommit = undefined;
        return this.commitNow(reason);
      });
      this.queuedCommit = queued;
      this.lastCommit = queued;
    }
    return this.queuedCommit;
  }

  /** One OffsetCommit of what is uncommitted; a failure is logged and the offsets stay for the next. */
  private async commitNow(reason: CommitReason): Promise<void> {
    const consumer = this.consumer;
    const offsets = this.offsets.uncommitted();
    if (!consumer || offsets.length === 0) return;
    const { groupId } = this.options;
    try {
      await consumer.commitOffsets(offsets);
    } catch (error) {
      const type = errorType(error);
      const rebalancing = type !== undefined && REBALANCE_ERRORS.has(type);
      this.logger[rebalancing ? 'debug' : 'warn'](
        { err: error, groupId, reason, offsets },
        'kafka offsets not committed; the next commit tries again',
      );
      return;
    }
    // kafkajs resolves without committing when its consumer is no longer running: only the broker's
    // acknowledgement (the COMMIT_OFFSETS event) marks offsets committed.
    if (this.offsets.isCommitted(offsets)) {
      this.logger.debug({ groupId, reason, offsets }, 'kafka offsets committed');
    } else {
      this.logger.debug(
        { groupId, reason, offsets },
        'kafka offsets not committed: the consumer is not running',
      );
    }
  }

  /**
   * Before leaving the group: take no more messages, let the handlers in progress finish (for up to
   * DRAIN_TIMEOUT_MS) and commit everything handled, so the partitions' next owners start right after
   * it. Pausing, not kafkajs's consumer.stop(), which drops the group state a commit needs.
   */
  private async finishHandling(): Promise<void> {
    this.draining = true;
    try {
      this.consumer?.pause(this.options.topics.map((topic) => ({ topic })));
    } catch {
      // Not running (still connecting, or crashed): nothing is being fetched.
    }
    await this.handlersFinished(DRAIN_TIMEOUT_MS);
    await this.commitHandled('stop');
  }

  private handlersFinished(timeoutMs: number): Promise<void> {
    if (this.handlersRunning === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const finished = () => {
        clearTimeout(timer);
        this.onHandlersIdle = undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        this.logger.warn(
          { groupId: this.options.groupId, handlersRunning: this.handlersRunning, timeoutMs },
          'kafka subscription stopping with handlers still running; their messages go to the next member',
        );
        finished();
      }, timeoutMs);
      this.onHandlersIdle = finished;
    });
  }

  private onCrash(consumer: Consumer, { payload }: ConsumerCrashEvent): void {
    this.running = false;
    if (consumer !== this.consumer) return;
    this.forgetUncommitted();
    // kafkajs restarts by itself after retriable errors; after others it gives up, but a gateway
    // must keep consuming (e.g. once an ACL is fixed), so start over with a fresh consumer.
    if (payload.restart || this.stopping) return;
    this.scheduleRestart(payload.error);
  }

  /**
   * kafkajs reports a crash only after it has left the group and dropped the consumer's group state,
   * so what was handled since the last commit can no longer be committed by this member: the
   * partitions' next owners (this subscription too, once it rejoins) read it again.
   */
  private forgetUncommitted(): void {
    const lost = this.offsets.clear();
    if (lost.length === 0) return;
    this.logger.warn(
      { groupId: this.options.groupId, offsets: lost },
      'kafka consumer crashed before committing; messages handled since the last commit will be read again',
    );
  }

  private scheduleRestart(error: unknown): void {
    const delayMs = Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** this.failures++);
    this.logger.error(
      { err: error, groupId: this.options.groupId, topics: this.options.topics, delayMs },
      'kafka consumer stopped after a non-retriable error; restarting it',
    );
    this.restartTimer = setTimeout(async () => {
      if (this.stopping) return;
      // Nothing left to commit with the old consumer: see forgetUncommitted().
      await this.consumer?.disconnect().catch(() => {});
      await this.start().catch((startError: unknown) => {
        if (!this.stopping) this.scheduleRestart(startError);
      });
    }, delayMs);
  }
}

/** kafkajs's commit payload as one list; offsets there may be Long objects, hence String(). */
function flatten(topics: TopicOffsets[]): PartitionOffset[] {
  return topics.flatMap(({ topic, partitions }) =>
    partitions.map(({ partition, offset }) => ({ topic, partition, offset: String(offset) })),
  );
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
