/**
 * The sample department connectors over Kafka, their own process (one process for all sample
 * departments, each its own connector and consumer group, as `silobridge connector` runs one), signing
 * with the demo keys the gateway wrote to its data folder.
 *   node --import tsx test/bench/bench-connectors.ts <brokers> <topicPrefix> <gatewayDataDir>
 * Answers the orchestrator's `kafkaRequests` (any request without another type) with the Kafka
 * requests this process sent so far. For the in-flight memory measurement (rss-in-flight.ts),
 * `{ type: 'hold', ms }` makes every request wait `ms` before its connector sees it, without holding
 * up the partition behind it (the message is taken off the subscription at once, so a connector holds
 * as many as arrive instead of one per partition), and `{ type: 'held' }` answers how many requests
 * are held or being answered now and the most at once since the last `held` (with `reset`). Holding
 * is off until asked for, so `npm run bench` measures the connectors as they are.
 */
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { startAllSampleConnectors } from '../../gateway/demo/run-sample-connector.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import { demoConnectorSigners } from '../support/department-keys.js';
import { serveOrchestrator } from './bench-process.js';
import { countKafkaRequests } from './kafka-request-counter.js';

const [brokers = '', topicPrefix = '', dataDir = ''] = process.argv.slice(2);
const kafkaRequests = countKafkaRequests();
const logger = createLogger('warn');
const bus = createKafkaBus({ brokers: brokers.split(','), clientId: `${topicPrefix}-connectors`, logger });

let holdMs = 0;
let held = 0;
let mostHeld = 0;
const holding = new Set<Promise<void>>();
/** The bus as the connectors see it: while holdMs > 0, a request waits that long off the partition. */
const holdingBus: Bus = {
  kind: bus.kind,
  ensureTopics: (...args) => bus.ensureTopics(...args),
  publish: (...args) => bus.publish(...args),
  check: () => bus.check(),
  close: () => bus.close(),
  subscribe: (options) =>
    bus.subscribe({
      ...options,
      handle: (message) => {
        if (holdMs <= 0) return options.handle(message);
        held += 1;
        mostHeld = Math.max(mostHeld, held);
        const answered = new Promise((resolve) => setTimeout(resolve, holdMs))
          .then(() => options.handle(message))
          .catch((error: unknown) => logger.error({ err: error }, 'held request failed'))
          .finally(() => {
            held -= 1;
            holding.delete(answered);
          });
        holding.add(answered);
        return Promise.resolve();
      },
    }),
};

const connectors = await startAllSampleConnectors({
  bus: holdingBus,
  topicPrefix,
  logger,
  signerFor: await demoConnectorSigners(dataDir),
});
serveOrchestrator(
  {},
  async (message) => {
    if (message.type === 'hold') {
      holdMs = Number(message.ms);
      return {};
    }
    if (message.type === 'held') {
      const answer = { held, mostHeld };
      if (message.reset) mostHeld = held;
      return answer;
    }
    return { counts: kafkaRequests() };
  },
  async () => {
    holdMs = 0;
    await Promise.all(holding);
    await connectors.stop();
    await bus.close();
  },
);
