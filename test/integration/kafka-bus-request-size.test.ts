/**
 * Publishes coalesced in one event-loop turn must not add up to a produce request the broker refuses
 * (issue 12: 32 batch calls of 100 in flight, 3,201 items answered 503 because their combined request
 * exceeded `message.max.bytes`, 1 MiB by default, as on the test broker). The bus splits a turn's
 * messages at `maxRequestBytes`; a single message over the broker's limit is still refused. Publishes
 * to several topics in one turn share one request (an evidence bundle's three departments, lookups
 * to several providers), and a topic that fails fails only its own publishers.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, inject, it, vi } from 'vitest';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { type Bus, UnknownTopicError } from '../../gateway/protocol/bus.js';
import { countKafkaRequests } from '../bench/kafka-request-counter.js';
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

/** Every Kafka request this test process sends, by API. */
const countRequests = countKafkaRequests();

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

  it('sends publishes to several topics in one turn as one produce request', async () => {
    const produceRequests = () => countRequests().Produce ?? 0;
    await withBus(async (bus) => {
      const topics = ['one', 'two', 'three'].map((name) => uniqueName(`turn-${name}`));
      await bus.ensureTopics(topics);
      const received: string[] = [];
      const subscription = await bus.subscribe({
        topics,
        groupId: uniqueName('g'),
        handle: async (incoming) => {
          received.push(`${incoming.topic}:${incoming.value}`);
        },
      });
      await subscription.ready;
      await bus.publish(topics[0] ?? '', [{ value: 'warm-up' }]); // connects the producer
      await vi.waitFor(() => expect(received).toHaveLength(1), waitLong);

      const before = produceRequests();
      await Promise.all(topics.map((topic) => bus.publish(topic, [{ value: 'together' }])));
      expect(produceRequests() - before).toBe(1);
      await vi.waitFor(() => expect(received).toHaveLength(4), waitLong);
      expect(received.slice(1).sort()).toEqual(topics.map((topic) => `${topic}:together`).sort());
    });
  });

  it("fails only the publishers of a topic that is gone, not the others sharing the turn's request", async () => {
    await withBus(async (bus) => {
      const [kept, deleted] = [uniqueName('kept'), uniqueName('deleted')];
      await bus.ensureTopics([kept, deleted]);
      // Both known to the bus; then the second disappears behind its back.
      await bus.publish(kept, [{ value: 'warm-up' }]);
      await bus.publish(deleted, [{ value: 'warm-up' }]);
      const admin = new Kafka({
        brokers,
        clientId: 'request-size-admin',
        logLevel: logLevel.NOTHING,
      }).admin();
      await admin.connect();
      try {
        await admin.deleteTopics({ topics: [deleted] });
      } finally {
        await admin.disconnect();
      }

      const outcomes = await Promise.allSettled([
        bus.publish(kept, [{ value: 'kept' }]),
        bus.publish(deleted, [{ value: 'lost' }]),
      ]);
      expect(outcomes[0]).toEqual({ status: 'fulfilled', value: undefined });
      expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: expect.any(UnknownTopicError) });
    });
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
