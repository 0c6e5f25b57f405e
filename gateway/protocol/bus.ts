/**
 * The message bus the gateway and the connector runtime talk through. Two implementations:
 * `kafka-bus.ts` (Apache Kafka via kafkajs) and `in-process-bus.ts` (one process, for the embedded
 * demo and unit tests). Business code depends on this interface only and never imports kafkajs.
 *
 * Semantics follow Kafka's: a topic is a log; every consumer group sees each message once; within a
 * group, messages with the same key go to the same member, in order.
 */

export type BusHeaders = Record<string, string>;

export interface OutgoingMessage {
  /** Partitioning key: messages with one key stay in order and reach one group member. */
  key?: string;
  value: string;
  headers?: BusHeaders;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | undefined;
  value: string;
  headers: BusHeaders;
  /** Broker (or in-process) timestamp, ms since epoch. */
  timestamp: number;
}

export interface SubscribeOptions {
  topics: string[];
  groupId: string;
  /** Read a group's first assignment from the start of the log instead of only new messages. */
  fromBeginning?: boolean;
  /**
   * How many messages this member handles at once (across partitions). Default 1. Messages of one
   * partition are always handled one at a time, in order, so at most min(concurrency, partitions
   * assigned to this member) run at once.
   */
  concurrency?: number;
  /**
   * Handles one message. The message counts as consumed (its offset may be committed) only after this
   * settles; an exception is logged and the message is skipped, it never stops the subscription.
   */
  handle: (message: IncomingMessage) => Promise<void>;
}

export interface Subscription {
  /** Resolves once the member is part of its group and fetching (what readiness waits for). */
  readonly ready: Promise<void>;
  isRunning(): boolean;
  stop(): Promise<void>;
}

/** How long a topic keeps its messages. */
export interface TopicRetention {
  /** Keep only the newest message per key (Kafka log compaction): a topic that holds current state. */
  compacted?: boolean;
  /** Delete messages older than this. */
  retentionMs?: number;
  /**
   * Also set this retention on topics that already exist (the gateway, which owns topic settings,
   * does; connectors never do, and under Kafka ACLs they may not).
   */
  applyToExisting?: boolean;
}

export interface Bus {
  readonly kind: 'kafka' | 'in-process';
  /**
   * Creates missing topics (idempotent) with `partitions` partitions (default 1); existing topics are
   * left as they are. Kafka subscriptions need their topics to exist first. Both buses honour the
   * retention; the in-process one also drops what every consumer group has read.
   */
  ensureTopics(topics: string[], partitions?: number, retention?: TopicRetention): Promise<void>;
  /**
   * Appends the messages (one key's messages keep the order given); resolves once they are stored.
   * Rejects with UnknownTopicError if the topic does not exist.
   */
  publish(topic: string, messages: OutgoingMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Cheap reachability check for /readyz; rejects with a reason when the bus cannot be reached. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** Where a bus reports what it cannot throw to a caller (handler failures, client warnings). A pino logger fits. */
export interface BusLogger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** Publishing to a topic that was never created: topics are not auto-created (as on production brokers). */
export class UnknownTopicError extends Error {
  override readonly name = 'UnknownTopicError';
  constructor(readonly topic: string) {
    super(`Topic "${topic}" does not exist; create it first (Bus.ensureTopics).`);
  }
}
