/**
 * The in-process bus: the shared Bus contract, plus what only an in-memory bus promises (readiness
 * at once, delivery never inside publish, rebalancing when members come and go).
 */
import { describe, expect, it, vi } from 'vitest';
import type { IncomingMessage } from '../../gateway/bus/bus.js';
import { createInProcessBus } from '../../gateway/bus/in-process-bus.js';
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
