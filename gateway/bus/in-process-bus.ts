/**
 * The bus in one process's memory, with Kafka's semantics (the contract in gateway/protocol/bus.ts): a topic is an
 * append-only log of N partitions (a key's hash picks the partition, keyless messages go round
 * robin); each consumer group has its own committed position per partition and gets every message
 * once; a group's members split its partitions, reassigned whenever a member joins or leaves; one
 * partition's messages are handled one at a time, in order, and a message counts as consumed only
 * when its handler has settled. Publishing to, or subscribing to, a missing topic fails (no
 * auto-creation). Delivery always happens on a later turn of the event loop, never inside publish.
 *
 * Messages are not kept for the life of the process: each partition forgets a message once every
 * consumer group of its topic has committed past it (a group without members still holds its
 * position, as in Kafka), or once it is older than the topic's retention time; compacted topics keep
 * each key's newest message (in-process-log.ts). Offsets stay stable and keep increasing.
 */
import type {
  Bus,
  BusLogger,
  IncomingMessage,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  TopicRetention,
} from '../protocol/bus.js';
import { UnknownTopicError } from '../protocol/bus.js';
import { PartitionLog } from './in-process-log.js';

/** The in-process bus, plus what tests and metrics may ask of it. */
export interface InProcessBus extends Bus {
  /** How many messages its topics hold (one topic's, given a name): what retention keeps bounded. */
  retainedMessages(topic?: string): number;
}

interface Topic {
  readonly name: string;
  readonly partitions: PartitionLog[];
  /** Delete messages older than this (not on compacted topics, as with Kafka's cleanup.policy). */
  retentionMs: number | undefined;
  /** Every group that ever subscribed to it: their committed positions decide what is retained. */
  readonly groups: GroupTopic[];
  nextKeyless: number;
}

/** A group's position in one partition; `busy` while its current message is being handled. */
interface Cursor {
  next: number;
  busy: boolean;
}

/** One consumer group's view of one topic: who owns which partition, and how far it got. */
interface GroupTopic {
  readonly topic: Topic;
  readonly groupId: string;
  readonly cursors: Cursor[];
  members: Member[];
  owners: (Member | undefined)[];
  /** Where the next dispatch pass starts, so a busy partition 0 cannot starve the others. */
  rotation: number;
}

interface Member {
  readonly options: SubscribeOptions;
  readonly concurrency: number;
  inFlight: number;
  stopped: boolean;
  /** Settles stop() once the last in-flight handler has finished. */
  onIdle: (() => void) | undefined;
  leaving: Promise<void> | undefined;
}

const consoleLogger: BusLogger = {
  error: (obj, msg) => console.error(msg ?? '', obj),
  warn: (obj, msg) => console.warn(msg ?? '', obj),
  info: () => {},
  debug: () => {},
};

export function createInProcessBus(options: { logger?: BusLogger } = {}): InProcessBus {
  return new MemoryBus(options.logger ?? consoleLogger);
}

class MemoryBus implements InProcessBus {
  readonly kind = 'in-process' as const;
  private readonly topics = new Map<string, Topic>();
  /** groupId -> topic name -> state. Outlives members, like committed offsets in Kafka. */
  private readonly groups = new Map<string, Map<string, GroupTopic>>();
  private readonly members = new Set<Member>();
  private dispatchScheduled = false;
  private closed = false;

  constructor(private readonly logger: BusLogger) {}

  async ensureTopics(topics: string[], partitions = 1, retention: TopicRetention = {}): Promise<void> {
    this.assertOpen();
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new Error(`A topic needs a whole number of partitions >= 1, not ${partitions}.`);
    }
    const compacted = retention.compacted ?? false;
    for (const name of topics) {
      const existing = this.topics.get(name);
      if (existing && retention.applyToExisting && !compacted) existing.retentionMs = retention.retentionMs;
      if (!existing) {
        this.topics.set(name, {
          name,
          partitions: Array.from({ length: partitions }, (_, i) => new PartitionLog(name, i, compacted)),
          retentionMs: compacted ? undefined : retention.retentionMs,
          groups: [],
          nextKeyless: 0,
        });
      }
    }
  }

  async publish(topicName: string, messages: OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    const topic = this.topic(topicName);
    for (const message of messages) {
      const partition =
        message.key === undefined
          ? topic.nextKeyless++ % topic.partitions.length
          : hashKey(message.key) % topic.partitions.length;
      (topic.partitions[partition] as PartitionLog).append({
        key: message.key,
        value: message.value,
        headers: { ...message.headers },
        timestamp: Date.now(),
      });
    }
    if (topic.retentionMs !== undefined) {
      const cutoff = Date.now() - topic.retentionMs;
      for (const log of topic.partitions) log.trimOlderThan(cutoff);
    }
    this.scheduleDispatch();
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(`concurrency must be a whole number >= 1, not ${options.concurrency}.`);
    }
    const topics = [...new Set(options.topics)].map((name) => this.topic(name));
    const member: Member = {
      options,
      concurrency,
      inFlight: 0,
      stopped: false,
      onIdle: undefined,
      leaving: undefined,
    };
    this.members.add(member);
    for (const topic of topics) {
      const state = this.groupTopic(options.groupId, topic, options.fromBeginning ?? false);
      state.members.push(member);
      rebalance(state);
    }
    this.scheduleDispatch();

    return {
      ready: Promise.resolve(),
      isRunning: () => !member.stopped,
      stop: () => this.leave(member),
    };
  }

  async check(): Promise<void> {
    this.assertOpen();
  }

  retainedMessages(topicName?: string): number {
    const topics = topicName === undefined ? [...this.topics.values()] : [this.topic(topicName)];
    return topics.reduce((sum, topic) => sum + topic.partitions.reduce((n, log) => n + log.size, 0), 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.members].map((member) => this.leave(member)));
  }

  private leave(member: Member): Promise<void> {
    member.leaving ??= this.removeMember(member);
    return member.leaving;
  }

  private async removeMember(member: Member): Promise<void> {
    member.stopped = true;
    for (const byTopic of this.groups.values()) {
      for (const state of byTopic.values()) {
        if (!state.members.includes(member)) continue;
        state.members = state.members.filter((other) => other !== member);
        rebalance(state);
      }
    }
    this.scheduleDispatch();
    if (member.inFlight > 0) await new Promise<void>((resolve) => (member.onIdle = resolve));
    this.members.delete(member);
  }

  private groupTopic(groupId: string, topic: Topic, fromBeginning: boolean): GroupTopic {
    let byTopic = this.groups.get(groupId);
    if (!byTopic) {
      byTopic = new Map();
      this.groups.set(groupId, byTopic);
    }
    let state = byTopic.get(topic.name);
    if (!state) {
      // A new group starts at the log's start (its oldest retained message) or end, as Kafka's
      // auto.offset.reset does.
      const cursors = topic.partitions.map((log) => ({
        next: fromBeginning ? log.startOffset : log.endOffset,
        busy: false,
      }));
      state = { topic, groupId, cursors, members: [], owners: [], rotation: 0 };
      byTopic.set(topic.name, state);
      topic.groups.push(state);
    }
    return state;
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      for (const byTopic of this.groups.values()) {
        for (const state of byTopic.values()) this.dispatch(state);
      }
    });
  }

  /** Hands each idle, owned partition's next message to its owner while the owner has capacity. */
  private dispatch(state: GroupTopic): void {
    const count = state.cursors.length;
    state.rotation = (state.rotation + 1) % count;
    for (let i = 0; i < count; i++) {
      const partition = (state.rotation + i) % count;
      const cursor = state.cursors[partition] as Cursor;
      const owner = state.owners[partition];
      const message = state.topic.partitions[partition]?.next(cursor.next);
      if (!owner || owner.stopped || cursor.busy || !message || owner.inFlight >= owner.concurrency) continue;
      this.deliver(state, owner, cursor, message);
    }
  }

  private deliver(state: GroupTopic, member: Member, cursor: Cursor, message: IncomingMessage): void {
    cursor.busy = true;
    member.inFlight++;
    const copy = { ...message, headers: { ...message.headers } };
    Promise.resolve()
      .then(() => member.options.handle(copy))
      .catch((error: unknown) => {
        this.logger.error(
          {
            err: error,
            topic: message.topic,
            partition: message.partition,
            offset: message.offset,
            groupId: state.groupId,
          },
          'bus message handler failed; message skipped',
        );
      })
      .finally(() => {
        // Commit: the group moves past this message whether the handler succeeded or not.
        cursor.next = Number(message.offset) + 1;
        cursor.busy = false;
        this.trim(state.topic, message.partition);
        member.inFlight--;
        if (member.inFlight === 0) member.onIdle?.();
        this.scheduleDispatch();
      });
  }

  /** Forgets what every group of the topic has committed past in this partition. */
  private trim(topic: Topic, partition: number): void {
    let lowest = Number.POSITIVE_INFINITY;
    for (const group of topic.groups) lowest = Math.min(lowest, (group.cursors[partition] as Cursor).next);
    topic.partitions[partition]?.trimBelow(lowest);
  }

  private topic(name: string): Topic {
    const topic = this.topics.get(name);
    if (!topic) throw new UnknownTopicError(name);
    return topic;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('The in-process bus is closed.');
  }
}

/** Partitions go round robin over the members in join order (like Kafka's round-robin assignor). */
function rebalance(state: GroupTopic): void {
  const members = state.members;
  state.owners = state.cursors.map((_, partition) => members[partition % Math.max(members.length, 1)]);
}

/** FNV-1a over the key's UTF-8 bytes: stable across runs, so a key always lands in one partition. */
function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
