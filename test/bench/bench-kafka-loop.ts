/**
 * The bare kafkajs request-reply loop, the ceiling a gateway over Kafka is compared with: a requester
 * (the load generator: produce a request, wait for the reply with its correlation id) and a responder
 * (consume a request, produce a reply), each its own process, with the bus's consumer settings
 * (maxWaitTimeInMs 100, acks=all, autoCommit). `one-send`: one producer.send per message, as a naive
 * client does; `coalesced`: the messages of one event-loop turn share one send, as KafkaBus does.
 * The responder does not wait for a reply's acknowledgement before taking the next request.
 *   node --import tsx test/bench/bench-kafka-loop.ts <requester|responder> <brokers> <prefix> <one-send|coalesced>
 */
import { randomBytes } from 'node:crypto';
import { Kafka, type KafkaMessage, logLevel, type Message, Partitioners } from 'kafkajs';
import { runPhase, serveOrchestrator } from './bench-process.js';
import { countKafkaRequests } from './kafka-request-counter.js';

const [role = '', brokers = '', prefix = '', mode = 'one-send'] = process.argv.slice(2);
const requestTopic = `${prefix}.requests`;
const replyTopic = `${prefix}.replies`;
/** About a lookup request's and a signed certificate reply's size on the bus. */
const REQUEST_VALUE = JSON.stringify({ padding: randomBytes(150).toString('hex') });
const REPLY_VALUE = JSON.stringify({ padding: randomBytes(800).toString('hex') });

const kafkaRequests = countKafkaRequests();
const kafka = new Kafka({
  clientId: `${prefix}-${role}`,
  brokers: brokers.split(','),
  logLevel: logLevel.WARN,
});
const producer = kafka.producer({
  createPartitioner: Partitioners.DefaultPartitioner,
  allowAutoTopicCreation: false,
});
const consumer = kafka.consumer({
  groupId: `${prefix}-${role}`,
  maxWaitTimeInMs: 100,
  allowAutoTopicCreation: false,
});

/** Sends `message` to `topic`: at once, or with the other messages of this event-loop turn. */
function sender(topic: string): (message: Message) => Promise<unknown> {
  if (mode !== 'coalesced') return (message) => producer.send({ topic, acks: -1, messages: [message] });
  let turn: { messages: Message[]; sent: Promise<unknown> } | undefined;
  return (message) => {
    if (!turn) {
      const messages: Message[] = [];
      const sent = new Promise((resolve) => setImmediate(resolve)).then(() => {
        turn = undefined;
        return producer.send({ topic, acks: -1, messages });
      });
      turn = { messages, sent };
    }
    turn.messages.push(message);
    return turn.sent;
  };
}

/** Consumes `topic` (fresh, so from its beginning); resolves once the first fetch completed. */
async function consume(topic: string, handle: (message: KafkaMessage) => void): Promise<void> {
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const fetched = new Promise<void>((resolve) => consumer.on(consumer.events.FETCH, () => resolve()));
  await consumer.run({
    eachMessage: async ({ message }) => handle(message),
  });
  await fetched;
}

await producer.connect();
await consumer.connect();
const stop = async () => {
  await consumer.disconnect().catch(() => {});
  await producer.disconnect().catch(() => {});
};

if (role === 'responder') {
  const reply = sender(replyTopic);
  await consume(requestTopic, (message) => {
    void reply({ key: message.key, value: REPLY_VALUE, headers: message.headers }).catch(() => {});
  });
  serveOrchestrator({}, async () => ({ counts: kafkaRequests() }), stop);
} else {
  const pending = new Map<string, () => void>();
  const request = sender(requestTopic);
  await consume(replyTopic, (message) => {
    const id = message.headers?.correlationId?.toString();
    if (id) pending.get(id)?.();
  });
  let sequence = 0;
  const roundTrip = (): Promise<{ items: number }> =>
    new Promise((resolve, reject) => {
      const id = `${process.pid}-${sequence++}`;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('no reply in 10 s'));
      }, 10_000);
      pending.set(id, () => {
        clearTimeout(timer);
        pending.delete(id);
        resolve({ items: 1 });
      });
      request({ key: id, value: REQUEST_VALUE, headers: { correlationId: id } }).catch(reject);
    });
  serveOrchestrator(
    {},
    async (message) => {
      if (message.type === 'kafkaRequests') return { counts: kafkaRequests() };
      const { count, concurrency } = message as unknown as { count: number; concurrency: number };
      return { result: await runPhase(count, concurrency, roundTrip) };
    },
    stop,
  );
}
