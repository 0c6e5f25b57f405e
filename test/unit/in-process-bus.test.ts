/**
 * The in-process bus: the shared Bus contract, plus what only an in-memory bus promises (readiness
 * at once, delivery never inside publish, rebalancing when members come and go).
 */
import { describe, expect, it, vi } from 'vitest';
import { createInProcessBus, type InProcessBus } from '../../gateway/bus/in-process-bus.js';
import type { IncomingMessage } from '../../gateway/protocol/bus.js';
import { createRecordingLogger, describeBusContract, uniqueName } from '../contract/bus-contract.js';

describeBusContract('InProcessBus', (logger) => createInProcessBus({ logger }));

describe('InProcessBus', () => {
  it('is ready at once and delivers on a later turn of the event loop, never inside publish', async () => {
    const bus = createInProcessBus({ logger: createRecordingLogger() });
    const topic = uniqueName('async');
    await bus.ensureTopics([topic]);
    const received: string[] = [];
    const subscription = await bus.subscribe({
      topics: [topic],
      groupId: uniqueName('g'),
      handle: async (message) => {
        received.push(message.value);
      },
    });
    await subscription.ready;

    await bus.publish(topic, [{ value: 'hello' }]);
    expect(received).toEqual([]);

    await vi.waitFor(() => expect(received).toEqual(['hello']));
    await bus.close();
  });

  it('gives a joining member a share of the partitions and hands them back when it leaves', async () => {
    const bus = createInProcessBus({ logger: createRecordingLogger() });
    const topic = uniqueName('rebalance');
    await bus.ensureTopics([topic], 4);
    const groupId = uniqueName('g');
    const seen = { a: [] as IncomingMessage[], b: [] as IncomingMessage[] };
    const member = (name: 'a' | 'b') =>
      bus.subscribe({ topics: [topic], groupId, handle: async (message) => void seen[name].push(message) });
    const publishRound = (round: string) =>
      bus.publish(
        topic,
        Array.from({ length: 8 }, () => ({ value: round })),
      );

    await member('a');
    await publishRound('alone');
    await vi.waitFor(() => expect(seen.a).toHaveLength(8));

    const b = await member('b');
    await publishRound('shared');
    await vi.waitFor(() => expect(seen.a.length + seen.b.length).toBe(16));
    expect(new Set(seen.a.filter((m) => m.value === 'shared').map((m) => m.partition))).toEqual(
      new Set([0, 2]),
    );
    expect(new Set(seen.b.map((m) => m.partition))).toEqual(new Set([1, 3]));

    await b.stop();
    await publishRound('back');
    await vi.waitFor(() => expect(seen.a.filter((m) => m.value === 'back')).toHaveLength(8));
    await bus.close();
  });

  it('rejects a partition count or concurrency that is not a whole number >= 1', async () => {
    const bus = createInProcessBus({ logger: createRecordingLogger() });
    const topic = uniqueName('bad');
    await expect(bus.ensureTopics([topic], 0)).rejects.toThrow(/partitions/);
    await bus.ensureTopics([topic]);
    await expect(
      bus.subscribe({ topics: [topic], groupId: uniqueName('g'), concurrency: 0, handle: async () => {} }),
    ).rejects.toThrow(/concurrency/);
    await bus.close();
  });
});

describe('InProcessBus retention', () => {
  const drain = async (bus: InProcessBus, topic: string, groupId: string, fromBeginning = false) => {
    const seen: IncomingMessage[] = [];
    const subscription = await bus.subscribe({
      topics: [topic],
      groupId,
      fromBeginning,
      handle: async (message) => void seen.push(message),
    });
    return { seen, subscription };
  };

  it('forgets what every group has consumed, so memory stays bounded, and keeps offsets increasing', async () => {
    const bus = createInProcessBus({ logger: createRecordingLogger() });
    const topic = uniqueName('retention');
    await bus.ensureTopics([topic], 3);
    const first = await drain(bus, topic, uniqueName('g'));
    const second = await drain(bus, topic, uniqueName('g'));
    const rounds = 20;
    const perRound = 50;

    for (let round = 0; round < rounds; round++) {
      await bus.publish(
        topic,
        Array.from({ length: perRound }, (_, i) => ({ key: `subject-${i}`, value: `${round}:${i}` })),
      );
      // The log holds at most what is published and not yet consumed by both groups.
      expect(bus.retainedMessages(topic)).toBeLessThanOrEqual(perRound);
      await vi.waitFor(() => expect(second.seen).toHaveLength((round + 1) * perRound), { interval: 5 });
      await vi.waitFor(() => expect(first.seen).toHaveLength((round + 1) * perRound), { interval: 5 });
    }

    expect(bus.retainedMessages(topic)).toBe(0);
    expect(bus.retainedMessages()).toBe(0);
    // Offsets stay unique and increasing per partition, across trimming.
    for (const partition of [0, 1, 2]) {
      const offsets = first.seen.filter((m) => m.partition === partition).map((m) => Number(m.offset));
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
    // A new group reading "from the beginning" starts at the oldest retained message: none are left.
    const late = await drain(bus, topic, uniqueName('g'), true);
    const partitionOf0 = first.seen.find((m) => m.key === 'subject-0')?.partition;
    const nextOffset = first.seen.filter((m) => m.partition === partitionOf0).length;
    await bus.publish(topic, [{ key: 'subject-0', value: 'after' }]);
    await vi.waitFor(() =>
      expect(late.seen.map((m) => [m.offset, m.value])).toEqual([[`${nextOffset}`, 'after']]),
    );
    await bus.close();
  });

  it('keeps messages for a group that has no members, until it has read them', async () => {
    const bus = createInProcessBus({ logger: createRecordingLogger() });
    const topic = uniqueName('idle-group');
    await bus.ensureTopics([topic]);
    const idleGroup = uniqueName('g');
    const idle = await drain(bus, topic, idleGroup);
    await idle.subscription.stop();
    const active = await drain(bus, topic, uniqueName('g'));

    await bus.publish(
      topic,
      ['a', 'b', 'c'].map((value) => ({ value })),
    );
    await vi.waitFor(() => expect(active.seen).toHaveLength(3));
    expect(bus.retainedMessages(topic)).toBe(3);

    const back = await drain(bus, topic, idleGroup);
    await vi.waitFor(() =>
      expect(back.seen.map((m) => [m.offset, m.value])).toEqual([
        ['0', 'a'],
        ['1', 'b'],
        ['2', 'c'],
      ]),
    );
    await vi.waitFor(() => expect(bus.retainedMessages(topic)).toBe(0));
    await bus.close();
  });

  it('keeps the newest message of each key in a compacted topic, for groups that join later', async () => {
    const bus = createInProcessBus({ logger: createRecordingLogger() });
    const topic = uniqueName('compacted');
    await bus.ensureTopics([topic], 1, { compacted: true });
    const reader = await drain(bus, topic, uniqueName('g'));
    for (let beat = 0; beat < 10; beat++) {
      await bus.publish(topic, [
        { key: 'instance-a', value: `a${beat}` },
        { key: 'instance-b', value: `b${beat}` },
      ]);
    }
    await vi.waitFor(() => expect(reader.seen).toHaveLength(20));
    expect(bus.retainedMessages(topic)).toBe(2);

    const late = await drain(bus, topic, uniqueName('g'), true);
    await vi.waitFor(() =>
      expect(late.seen.map((m) => [m.offset, m.value])).toEqual([
        ['18', 'a9'],
        ['19', 'b9'],
      ]),
    );
    await bus.close();
  });

  it('forgets messages older than the topic’s retention time, read or not', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const bus = createInProcessBus({ logger: createRecordingLogger() });
      const topic = uniqueName('retention-time');
      await bus.ensureTopics([topic], 1, { retentionMs: 60_000 });
      await bus.publish(topic, [{ value: 'old' }]);
      vi.setSystemTime(Date.now() + 61_000);
      await bus.publish(topic, [{ value: 'new' }]);
      expect(bus.retainedMessages(topic)).toBe(1);

      const reader = await drain(bus, topic, uniqueName('g'), true);
      await vi.waitFor(() => expect(reader.seen.map((m) => [m.offset, m.value])).toEqual([['1', 'new']]));
      await bus.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
