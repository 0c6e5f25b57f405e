/**
 * What a Kafka consumer may commit: per topic-partition, the offset to read from next (the last handled
 * message's offset + 1, which is what Kafka stores as a group's position) and the last one committed.
 * Messages of one partition are handled one at a time, in order, so that position also means "every
 * message before it was handled". No kafkajs here: kafka-subscription.ts decides when to commit.
 */

/** One partition's commit point, in the shape kafkajs's commitOffsets() takes. */
export interface PartitionOffset {
  topic: string;
  partition: number;
  /** A decimal string, as Kafka offsets are 64-bit. */
  offset: string;
}

interface Position {
  next: bigint;
  committed: bigint | undefined;
}

export class HandledOffsets {
  /** topic -> partition -> position. */
  private readonly topics = new Map<string, Map<number, Position>>();

  /** Records that the message at `offset` was handled (its handler settled, whether or not it threw). */
  handled(topic: string, partition: number, offset: string): void {
    const next = BigInt(offset) + 1n;
    let partitions = this.topics.get(topic);
    if (!partitions) {
      partitions = new Map();
      this.topics.set(topic, partitions);
    }
    const position = partitions.get(partition);
    if (!position) {
      partitions.set(partition, { next, committed: undefined });
      return;
    }
    // A rebalance can give this member its partition back from an older committed offset, so messages
    // it handled already come again: the commit point stays where it was, everything before it is done.
    if (next > position.next) position.next = next;
  }

  /** The positions that moved since they were last committed. */
  uncommitted(): PartitionOffset[] {
    const changed: PartitionOffset[] = [];
    for (const [topic, partitions] of this.topics) {
      for (const [partition, { next, committed }] of partitions) {
        if (committed === undefined || next > committed) {
          changed.push({ topic, partition, offset: next.toString() });
        }
      }
    }
    return changed;
  }

  hasUncommitted(): boolean {
    return this.uncommitted().length > 0;
  }

  /** Records what the broker acknowledged; positions it does not know (dropped since) are ignored. */
  committed(offsets: PartitionOffset[]): void {
    for (const { topic, partition, offset } of offsets) {
      const position = this.topics.get(topic)?.get(partition);
      const value = BigInt(offset);
      if (position && (position.committed === undefined || value > position.committed)) {
        position.committed = value;
      }
    }
  }

  /** Whether the broker acknowledged each of these positions (or a later one). */
  isCommitted(offsets: PartitionOffset[]): boolean {
    return offsets.every(({ topic, partition, offset }) => {
      const committed = this.topics.get(topic)?.get(partition)?.committed;
      return committed !== undefined && committed >= BigInt(offset);
    });
  }

  /** Forgets every partition not in `assignment` (topic -> partitions), e.g. after a rebalance. */
  retainOnly(assignment: Record<string, number[]>): void {
    for (const [topic, partitions] of this.topics) {
      const kept = new Set(assignment[topic] ?? []);
      for (const partition of partitions.keys()) {
        if (!kept.has(partition)) partitions.delete(partition);
      }
      if (partitions.size === 0) this.topics.delete(topic);
    }
  }

  /** Forgets every position; returns those that were not committed yet. */
  clear(): PartitionOffset[] {
    const lost = this.uncommitted();
    this.topics.clear();
    return lost;
  }
}
