/**
 * One consumer group member in a process of its own, so that a test can kill it (SIGKILL: no stop(),
 * no commit, no leaving the group). Subscribes through the Kafka bus, prints `ready` once consuming,
 * then one JSON line per handled message: `{"partition":0,"offset":"12","value":"m12"}`.
 *
 * node --import tsx test/support/kafka-member-process.ts '{"brokers":[...],"topic":...,"groupId":...,"commitIntervalMs":1000}'
 */
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import type { BusLogger } from '../../gateway/protocol/bus.js';

interface MemberOptions {
  brokers: string[];
  topic: string;
  groupId: string;
  commitIntervalMs: number;
}

/** Warnings and errors on stderr (the test shows them if it fails); stdout is for the test to read. */
const logger: BusLogger = {
  error: (obj, msg) => process.stderr.write(`error: ${msg} ${JSON.stringify(obj)}\n`),
  warn: (obj, msg) => process.stderr.write(`warn: ${msg} ${JSON.stringify(obj)}\n`),
  info: () => {},
  debug: () => {},
};

const options = JSON.parse(process.argv[2] ?? '{}') as MemberOptions;
const bus = createKafkaBus({
  brokers: options.brokers,
  clientId: `kafka-member-${process.pid}`,
  logger,
  commitIntervalMs: options.commitIntervalMs,
});
const subscription = await bus.subscribe({
  topics: [options.topic],
  groupId: options.groupId,
  fromBeginning: true,
  handle: async ({ partition, offset, value }) => {
    process.stdout.write(`${JSON.stringify({ partition, offset, value })}\n`);
  },
});
await subscription.ready;
process.stdout.write('ready\n');
process.once('SIGTERM', () => void bus.close().then(() => process.exit(0)));
