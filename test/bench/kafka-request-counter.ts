/**
 * Counts the Kafka requests this process sends, by API (Produce, Fetch, OffsetCommit, Heartbeat...):
 * wraps kafkajs's Connection.send, which every kafkajs request of every client in the process goes
 * through. For the benchmark only; kafkajs's instrumentation events would need the producer's and
 * each consumer's objects, which the bus keeps to itself.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

type Send = (this: unknown, options: { request: { apiName: string } }) => Promise<unknown>;

export function countKafkaRequests(): () => Record<string, number> {
  // The same module instance kafkajs's own index.js loads (one require cache, one file).
  const Connection = require('kafkajs/src/network/connection.js') as { prototype: { send: Send } };
  const counts: Record<string, number> = {};
  const send = Connection.prototype.send;
  Connection.prototype.send = function (this: unknown, options) {
    const name = options.request.apiName;
    counts[name] = (counts[name] ?? 0) + 1;
    return send.call(this, options);
  };
  return () => ({ ...counts });
}
