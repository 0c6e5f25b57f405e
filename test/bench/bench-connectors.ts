/**
 * The sample department connectors over Kafka, their own process (one process for all sample
 * departments, each its own connector and consumer group, as `silobridge connector` runs one), signing
 * with the demo keys the gateway wrote to its data folder.
 *   node --import tsx test/bench/bench-connectors.ts <brokers> <topicPrefix> <gatewayDataDir>
 */
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { startAllSampleConnectors } from '../../gateway/demo/run-sample-connector.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { demoConnectorSigners } from '../support/department-keys.js';
import { serveOrchestrator } from './bench-process.js';
import { countKafkaRequests } from './kafka-request-counter.js';

const [brokers = '', topicPrefix = '', dataDir = ''] = process.argv.slice(2);
const kafkaRequests = countKafkaRequests();
const logger = createLogger('warn');
const bus = createKafkaBus({ brokers: brokers.split(','), clientId: `${topicPrefix}-connectors`, logger });
const connectors = await startAllSampleConnectors({
  bus,
  topicPrefix,
  logger,
  signerFor: await demoConnectorSigners(dataDir),
});
serveOrchestrator(
  {},
  async () => ({ counts: kafkaRequests() }),
  async () => {
    await connectors.stop();
    await bus.close();
  },
);
