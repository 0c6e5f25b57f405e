/**
 * Publishes coalesced in one event-loop turn must not add up to a produce request the broker refuses
 * (issue 12: 32 batch calls of 100 in flight, 3,201 items answered 503 because their combined request
 * exceeded `message.max.bytes`, 1 MiB by default, as on the test broker). The bus splits a turn's
 * messages at `maxRequestBytes`; a single message over the broker's limit is still refused.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it, vi } from 'vitest';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import { createRecordingLogger, uniqueName, waitLong } from '../contract/bus-contract.js';

const brokers = inject('kafkaBrokers').split(',');

/** About the size of a lookup request on the bus, with headers like the gateway's. */
function message(call: number, item: number) {
  return {
    key: `subject-${call}-${item}`,
    value: JSON.stringify({ call, item, padding: randomBytes(450).toString('hex') }),
    headers: { kafka_correlationId: `${call}-${item}`, kafka_replyTopic: 'replies' },
  };
}

async function withBus(work: (bus: Bus) => Promise<void>, maxRequestBytes?: number): Promise<void> {
  const bus = createKafkaBus({
    brokers,
    clientId: `request-size-${randomBytes(3).toString('hex')}`,
    logger: createRecordingLogger(),
    ...(maxRequestBytes === undefined ? {} : { maxRequestBytes }),
  });
  try {
    await work(bus);
  } finally {
    await bus.close();
  }
}

describe('KafkaBus produce requests', { timeout: 60_000 }, () => {
  it.each([
    ['the default cap', undefined],
    ['a 64 KiB cap', 64 * 1024],
  ])('delivers 32 x 100 messages (3.3 MB) published in one turn, with %s', async (_label, cap) => {
    await withBus(async (bus) => {
      const topic = uniqueName('request-size');
      await bus.ensureTopics([topic], 2);
      const received = new Set<string>();
      const subscription = await bus.subscribe({
        topics: [topic],
        groupId: uniqueName('g'),
        handle: async (incoming) => {
          received.add(incoming.headers.kafka_correlationId ?? '');
        },
      });
      await subscription.ready;

      // One turn: 32 batch calls of 100 items each publish without awaiting one another.
      const calls = Array.from({ length: 32 }, (_, call) =>
        bus.publish(
          topic,
          Array.from({ length: 100 }, (_, item) => message(call, item)),
        ),
      );
      const outcomes = await Promise.allSettled(calls);

      expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
      await vi.waitFor(() => expect(received.size).toBe(3200), waitLong);
    }, cap);
  });

  it('still refuses one message larger than the broker accepts, alone, and the rest of the turn goes out', async () => {
    await withBus(async (bus) => {
      const topic = uniqueName('too-large');
      await bus.ensureTopics([topic]);
      const received: string[] = [];
      const subscription = await bus.subscribe({
        topics: [topic],
        groupId: uniqueName('g'),
        handle: async (incoming) => {
          received.push(incoming.value);
        },
      });
      await subscription.ready;

      const huge = bus.publish(topic, [{ value: 'x'.repeat(1_200_000) }]);
      const small = bus.publish(topic, [{ value: 'small' }]);

      await expect(huge).rejects.toThrow();
      await expect(small).resolves.toBeUndefined();
      await vi.waitFor(() => expect(received).toContain('small'), waitLong);
      expect(received).toEqual(['small']);
    });
  });
});
