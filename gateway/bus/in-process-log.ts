/**
 * One partition of an in-process topic (in-process-bus.ts): an append-only log whose offsets never
 * change, that forgets what it no longer needs, as a Kafka broker's retention does. The bus trims it
 * below the lowest position its consumer groups have committed (`trimBelow`), and by age when the
 * topic has a retention time (`trimOlderThan`). Offsets keep increasing from a base offset, so the
 * oldest retained message is the log's start, which is where `fromBeginning` begins.
 *
 * A compacted topic keeps the newest message of each key however far every group has read, as Kafka
 * log compaction does, so a group that joins later still reads every key's current state; offsets
 * then have gaps, as they do in a compacted Kafka partition.
 */
import type { IncomingMessage } from '../protocol/bus.js';

/** Trimmed slots are only cleared (so their messages can be collected) until this many pile up. */
const COMPACT_AFTER = 1024;

export class PartitionLog {
  /** Offset of `entries[head]`, the oldest message not yet trimmed. */
  private base = 0;
  /** Trimmed entries are `undefined` until the array is compacted. */
  private entries: (IncomingMessage | undefined)[] = [];
  private head = 0;
  /** Compacted topics only: the newest trimmed message of each key, in offset order. */
  private readonly survivors = new Map<string, IncomingMessage>();

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly compacted: boolean,
  ) {}

  /** The offset the next appended message gets. */
  get endOffset(): number {
    return this.base + this.entries.length - this.head;
  }

  /** The offset of the oldest retained message (the end offset when nothing is retained). */
  get startOffset(): number {
    const [oldest] = this.survivors.values();
    return oldest ? Number(oldest.offset) : this.base;
  }

  /** How many messages the log holds. */
  get size(): number {
    return this.entries.length - this.head + this.survivors.size;
  }

  append(message: Omit<IncomingMessage, 'topic' | 'partition' | 'offset'>): void {
    this.entries.push({
      ...message,
      topic: this.topic,
      partition: this.partition,
      offset: String(this.endOffset),
    });
  }

  /** The first retained message at or after `offset`: a group behind the log's start skips ahead. */
  next(offset: number): IncomingMessage | undefined {
    if (offset < this.base) {
      for (const message of this.survivors.values()) if (Number(message.offset) >= offset) return message;
      return this.entries[this.head];
    }
    return this.entries[this.head + offset - this.base];
  }

  /** Forgets the messages below `offset` (in a compacted topic, all but the newest of each key). */
  trimBelow(offset: number): void {
    const end = Math.min(offset, this.endOffset);
    if (end <= this.base) return;
    for (; this.base < end; this.base++, this.head++) {
      const message = this.entries[this.head] as IncomingMessage;
      this.entries[this.head] = undefined;
      if (this.compacted && message.key !== undefined) {
        // Delete first, so the map stays in offset order.
        this.survivors.delete(message.key);
        this.survivors.set(message.key, message);
      }
    }
    if (this.head >= COMPACT_AFTER && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Forgets the messages stored before `cutoff` (ms since epoch): a topic's retention time. */
  trimOlderThan(cutoff: number): void {
    let end = this.base;
    for (let i = this.head; i < this.entries.length; i++, end++) {
      if ((this.entries[i] as IncomingMessage).timestamp >= cutoff) break;
    }
    this.trimBelow(end);
  }
}
