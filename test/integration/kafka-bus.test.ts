/**
 * KafkaBus against the real broker the global setup started (or KAFKA_BROKERS): the shared Bus
 * contract, Kafka-only behaviour (check(), logging), and a test of the harness itself with plain
 * kafkajs, so a broken harness is told apart from a broken bus.
 */
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { createRecordingLogger, describeBusContract, uniqueName } from '../contract/bus-contract.js';

const brokers = inject('kafkaBrokers').split(',');
const clientId = () => `kafka-bus-test-${randomBytes(3).toString('hex')}`;

describe('the Kafka test broker', () => {
  it('carries a record from a plain kafkajs producer to a plain kafkajs consumer', async () => {
    const kafka = new Kafka({ clientId: clientId(), brokers, logLevel: logLevel.WARN });
    const topic = uniqueName('harness');
    const admin = kafka.admin();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    const consumer = kafka.consumer({ groupId: uniqueName('g'), maxWaitTimeInMs: 100 });
    try {
      await admin.connect();
      expect(await admin.createTopics({ topics: [{ topic }], waitForLeaders: true })).toBe(true);
      await producer.connect();
      await producer.send({ topic, messages: [{ key: '键', value: '证照', headers: { h: '值' } }] });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const received = await new Promise<string[]>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) =>
            resolve([String(message.key), String(message.value), String(message.headers?.h)]),
        });
      });
      expect(received).toEqual(['键', '证照', '值']);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});

describeBusContract('KafkaBus', (logger) => createKafkaBus({ brokers, clientId: clientId(), logger }));

describe('KafkaBus', () => {
  it('check() resolves while the cluster answers and passes kafkajs logs to the bus logger', async () => {
    const logger = createRecordingLogger();
    const bus = createKafkaBus({ brokers, clientId: clientId(), logger, clientLogLevel: 'debug' });
    try {
      await bus.check();
      expect(logger.entries).toContainEqual(
        expect.objectContaining({ level: 'debug', obj: expect.objectContaining({ kafkajs: 'Connection' }) }),
      );
    } finally {
      await bus.close();
    }
  });

  it('check() rejects within its timeout when no broker listens', async () => {
    const port = await closedPort();
    const bus = createKafkaBus({
      brokers: [`127.0.0.1:${port}`],
      clientId: clientId(),
      logger: createRecordingLogger(),
      checkTimeoutMs: 300,
    });
    const started = Date.now();
    try {
      await expect(bus.check()).rejects.toThrow(/did not answer within 300 ms/);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await bus.close();
    }
  });
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
