/**
 * The behaviour every Bus implementation must show (gateway/protocol/bus.ts), as one vitest suite that
 * each implementation's test file runs with its own factory. Every test uses fresh random topic and
 * group names, and waits for conditions (vi.waitFor), never for fixed times.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Bus,
  type BusLogger,
  type IncomingMessage,
  type SubscribeOptions,
  type Subscription,
  UnknownTopicError,
} from '../../gateway/protocol/bus.js';

export type MakeBus = (logger: BusLogger) => Bus | Promise<Bus>;

export interface LogEntry {
  level: 'error' | 'warn' | 'info' | 'debug';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

export interface RecordingLogger extends BusLogger {
  entries: LogEntry[];
}

export function createRecordingLogger(): RecordingLogger {
  const entries: LogEntry[] = [];
  const record = (level: LogEntry['level']) => (obj: object, msg?: string) => {
    entries.push({ level, obj: obj as Record<string, unknown>, msg });
  };
  return {
    entries,
    error: record('error'),
    warn: record('warn'),
    info: record('info'),
    debug: record('debug'),
  };
}

/** Generous: a Kafka group join or rebalance takes a second or two on a loaded CI machine. */
export const waitLong = { timeout: 20_000, interval: 20 };

export function uniqueName(label: string): string {
  return `contract.${label}.${randomBytes(5).toString('hex')}`;
}

interface Collector {
  received: IncomingMessage[];
  values(): string[];
  subscription: Subscription;
}

export function describeBusContract(name: string, makeBus: MakeBus): void {
  describe(`${name} fulfils the Bus contract`, { timeout: 60_000 }, () => {
    const open: Bus[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((bus) => bus.close()));
    });

    async function openBus(): Promise<{ bus: Bus; logger: RecordingLogger }> {
      const logger = createRecordingLogger();
      const bus = await makeBus(logger);
      open.push(bus);
      return { bus, logger };
    }

    async function topic(bus: Bus, label: string, partitions = 1): Promise<string> {
      const name = uniqueName(label);
      await bus.ensureTopics([name], partitions);
      return name;
    }

    async function collect(
      bus: Bus,
      options: Omit<SubscribeOptions, 'handle'> & { handle?: SubscribeOptions['handle'] },
    ): Promise<Collector> {
      const received: IncomingMessage[] = [];
      const subscription = await bus.subscribe({
        ...options,
        handle: async (message) => {
          await options.handle?.(message);
          received.push(message);
        },
      });
      await subscription.ready;
      return { received, values: () => received.map((message) => message.value), subscription };
    }

    it('round-trips value, key and headers as UTF-8, Chinese text included', async () => {
      const { bus } = await openBus();
      const name = await topic(bus, 'round-trip', 2);
      const consumer = await collect(bus, { topics: [name], groupId: uniqueName('g') });
      const value = JSON.stringify({ name: '张三', certificate: '营业执照', mark: '✓ 🏛️' });
      const headers = {
        kafka_correlationId: randomUUID(),
        'content-type': 'application/json',
        'x-说明': '跨部门共享',
      };
      const before = Date.now();

      await bus.publish(name, [{ key: '统一社会信用代码/91350100M000100Y43', value, headers }]);
      await bus.publish(name, [{ value: 'no key, no headers' }]);

      await vi.waitFor(() => expect(consumer.received).toHaveLength(2), waitLong);
      const keyed = consumer.received.find((message) => message.value === value);
      expect(keyed).toMatchObject({
        topic: name,
        key: '统一社会信用代码/91350100M000100Y43',
        value,
        headers,
      });
      expect(keyed?.headers).toEqual(headers);
      expect([0, 1]).toContain(keyed?.partition);
      expect(keyed?.offset).toMatch(/^\d+$/);
      expect(keyed?.timestamp).toBeGreaterThanOrEqual(before - 5_000);
      expect(keyed?.timestamp).toBeLessThanOrEqual(Date.now() + 5_000);
      const keyless = consumer.received.find((message) => message.value === 'no key, no headers');
      expect(keyless?.key).toBeUndefined();
      expect(keyless?.headers).toEqual({});
    });

    it('starts a new group at the end of the log, or at its start with fromBeginning', async () => {
      const { bus } = await openBus();
      const name = await topic(bus, 'from-beginning');
      await bus.publish(name, [{ value: 'early' }]);
      const fromStart = await collect(bus, { topics: [name], groupId: uniqueName('g'), fromBeginning: true });
      const fromEnd = await collect(bus, { topics: [name], groupId: uniqueName('g') });

      await bus.publish(name, [{ value: 'late' }]);

      await vi.waitFor(() => expect(fromStart.values()).toEqual(['early', 'late']), waitLong);
      // One partition, in order: had 'early' been due to this group, it would have come first.
      await vi.waitFor(() => expect(fromEnd.values()).toEqual(['late']), waitLong);
    });

    it('gives every consumer group every message', async () => {
      const { bus } = await openBus();
      const name = await topic(bus, 'two-groups', 3);
      const first = await collect(bus, { topics: [name], groupId: uniqueName('g') });
      const second = await collect(bus, { topics: [name], groupId: uniqueName('g') });
      const values = Array.from({ length: 12 }, (_, i) => `message ${i}`);

      await bus.publish(
        name,
        values.map((value, i) => ({ key: `key-${i}`, value })),
      );

      await vi.waitFor(() => expect(first.values().sort()).toEqual([...values].sort()), waitLong);
      await vi.waitFor(() => expect(second.values().sort()).toEqual([...values].sort()), waitLong);
    });

    it('splits a group’s partitions between its members, each message seen once', async () => {
      const { bus } = await openBus();
      const name = await topic(bus, 'split', 4);
      const groupId = uniqueName('g');
      const a = await collect(bus, { topics: [name], groupId, fromBeginning: true });
      const b = await collect(bus, { topics: [name], groupId, fromBeginning: true });
      const values = Array.from({ length: 40 }, (_, i) => `message ${i}`);

      await bus.publish(
        name,
        values.map((value, i) => ({ key: `subject-${i}`, value })),
      );

      await vi.waitFor(
        () => expect([...a.values(), ...b.values()].sort()).toEqual([...values].sort()),
        waitLong,
      );
      expect(a.received.length).toBeGreaterThan(0);
      expect(b.received.length).toBeGreaterThan(0);
      const partitionsOf = (collector: Collector) =>
        new Set(collector.received.map((message) => message.partition));
      const shared = [...partitionsOf(a)].filter((partition) => partitionsOf(b).has(partition));
      expect(shared).toEqual([]);
    });

    it('is ready even as a member with no partition to read', async () => {
      const { bus } = await openBus();
      const name = await topic(bus, 'idle-member');
      const groupId = uniqueName('g');
      // fromBeginning: a rebalance makes the partition's new owner look up "the end" again, which
      // could be after the publish below.
      const a = await collect(bus, { topics: [name], groupId, fromBeginning: true });
      const b = await collect(bus, { topics: [name], groupId, fromBeginning: true });

      await bus.publish(name, [{ value: 'only one of us' }]);

      await vi.waitFor(() => expect([...a.values(), ...b.values()]).toEqual(['only one of us']), waitLong);
    });

    it('keeps one key’s messages in publishing order, even with concurrency', async () => {
      const { bus } = await openBus();
      const name = await topic(bus, 'order', 3);
      const consumer = await collect(bus, {
        topics: [name],
        groupId: uniqueName('g'),
        concurrency: 3,
        // Uneven handling times would expose any reordering.
        handle: async () => {
          for (let turns = Math.floor(Math.random() * 4); turns > 0; turns--) {
            await new Promise((resolve) => setImmediate(resolve));
          }
        },
      });
      const keys = ['citizen-a', 'citizen-b', 'citizen-c', 'citizen-d'];
      for (let round = 0; round < 5; round++) {
        const messages = [];
        for (let i = 0; i < 5; i++) {
          for (const key of keys) messages.push({ key, value: `${key}:${round * 5 + i}` });
        }
        await bus.publish(name, messages);
      }

      await vi.waitFor(() => expect(consumer.received).toHaveLength(100), waitLong);
      for (const key of keys) {
        const ofKey = consumer.received.filter((message) => message.key === key);
        expect(ofKey.map((message) => message.value)).toEqual(
          Array.from({ length: 25 }, (_, i) => `${key}:${i}`),
        );
        expect(new Set(ofKey.map((message) => message.partition)).size).toBe(1);
      }
    });

    it('handles up to `concurrency` messages at once, one per partition', async () => {
      const { bus } = await openBus();
      const name = await topic(bus, 'concurrency', 2);
      const track = () => {
        const state = { active: 0, max: 0, done: 0 };
        const handle = async () => {
          state.active++;
          state.max = Math.max(state.max, state.active);
          // Simulated work, long enough for a second message to start if it were allowed to.
          await new Promise((resolve) => setTimeout(resolve, 5));
          state.active--;
          state.done++;
        };
        return { state, handle };
      };
      const serial = track();
      const parallel = track();
      await collect(bus, { topics: [name], groupId: uniqueName('g'), handle: serial.handle });
      await collect(bus, {
        topics: [name],
        groupId: uniqueName('g'),
        concurrency: 2,
        handle: parallel.handle,
      });

      // Keyless messages alternate between the two partitions.
      await bus.publish(
        name,
        Array.from({ length: 20 }, (_, i) => ({ value: `job ${i}` })),
      );

      await vi.waitFor(() => expect(serial.state.done).toBe(20), waitLong);
      await vi.waitFor(() => expect(parallel.state.done).toBe(20), waitLong);
      expect(serial.state.max).toBe(1);
      expect(parallel.state.max).toBe(2);
    });

    it('logs a failing handler’s error, skips that message for good, and goes on', async () => {
      const { bus, logger } = await openBus();
      const name = await topic(bus, 'poison');
      const groupId = uniqueName('g');
      const poison = new Error('handler broke on purpose');
      let poisonAttempts = 0;
      const first = await collect(bus, {
        topics: [name],
        groupId,
        handle: async (message) => {
          if (message.value !== 'poison') return;
          poisonAttempts++;
          throw poison;
        },
      });

      await bus.publish(name, [{ value: 'before' }, { value: 'poison' }, { value: 'after' }]);

      await vi.waitFor(() => expect(first.values()).toEqual(['before', 'after']), waitLong);
      expect(poisonAttempts).toBe(1);
      expect(logger.entries).toContainEqual(
        expect.objectContaining({
          level: 'error',
          obj: expect.objectContaining({ err: poison, topic: name }),
        }),
      );

      // The skipped message was committed too: a later member of the group starts after it.
      await first.subscription.stop();
      await bus.publish(name, [{ value: 'later' }]);
      const next = await collect(bus, { topics: [name], groupId, fromBeginning: true });
      await vi.waitFor(() => expect(next.values()).toEqual(['later']), waitLong);
      expect(poisonAttempts).toBe(1);
    });

    it('refuses to publish or subscribe to a topic that does not exist', async () => {
      const { bus } = await openBus();
      const missing = uniqueName('missing');

      await expect(bus.publish(missing, [{ value: 'lost' }])).rejects.toBeInstanceOf(UnknownTopicError);
      await expect(
        bus.subscribe({ topics: [missing], groupId: uniqueName('g'), handle: async () => {} }),
      ).rejects.toBeInstanceOf(UnknownTopicError);
    });

    it('creates topics idempotently', async () => {
      const { bus } = await openBus();
      const existing = await topic(bus, 'idempotent');
      const added = uniqueName('idempotent');
      await bus.ensureTopics([existing, added]);
      await bus.ensureTopics([existing, added]);
      const consumer = await collect(bus, { topics: [existing, added], groupId: uniqueName('g') });

      await bus.publish(existing, [{ value: 'one' }]);
      await bus.publish(added, [{ value: 'two' }]);

      await vi.waitFor(() => expect(consumer.values().sort()).toEqual(['one', 'two']), waitLong);
    });

    it('stop() ends one member’s delivery and the other member takes over its partitions', async () => {
      const { bus } = await openBus();
      const name = await topic(bus, 'stop', 2);
      const groupId = uniqueName('g');
      const a = await collect(bus, { topics: [name], groupId, fromBeginning: true });
      const b = await collect(bus, { topics: [name], groupId, fromBeginning: true });
      const batch = (label: string) =>
        Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `${label} ${i}` }));
      await bus.publish(name, batch('first'));
      await vi.waitFor(() => expect(a.received.length + b.received.length).toBe(10), waitLong);

      await a.subscription.stop();
      expect(a.subscription.isRunning()).toBe(false);
      const seenByA = a.received.length;
      await bus.publish(name, batch('second'));

      const second = batch('second').map((message) => message.value);
      await vi.waitFor(
        () =>
          expect(
            b
              .values()
              .filter((value) => value.startsWith('second'))
              .sort(),
          ).toEqual(second.sort()),
        waitLong,
      );
      expect(a.received.length).toBe(seenByA);
      expect(b.subscription.isRunning()).toBe(true);
    });

    it('close() stops every subscription, and the bus refuses work afterwards', async () => {
      const { bus } = await openBus();
      const name = await topic(bus, 'close');
      const consumer = await collect(bus, { topics: [name], groupId: uniqueName('g') });
      await bus.check();
      await bus.publish(name, [{ value: 'delivered' }]);
      await vi.waitFor(() => expect(consumer.values()).toEqual(['delivered']), waitLong);

      await bus.close();

      expect(consumer.subscription.isRunning()).toBe(false);
      await expect(bus.publish(name, [{ value: 'too late' }])).rejects.toThrow(/closed/);
      await expect(
        bus.subscribe({ topics: [name], groupId: uniqueName('g'), handle: async () => {} }),
      ).rejects.toThrow(/closed/);
      await expect(bus.check()).rejects.toThrow(/closed/);
      await bus.close();
      expect(consumer.values()).toEqual(['delivered']);
    });
  });
}
