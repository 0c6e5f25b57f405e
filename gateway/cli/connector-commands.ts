/**
 * `silobridge connector --department <code>`: runs a department's sample connector against Kafka,
 * as a department team would run its own. SIGTERM/SIGINT announce `down`, let in-flight lookups
 * finish, and exit 0.
 */
import type { Command } from 'commander';
import { SAMPLE_DEPARTMENTS } from '../../connectors/samples/sample-departments.js';
import { createKafkaBus } from '../bus/kafka-bus.js';
import { runSampleConnector } from '../demo/run-sample-connector.js';
import { loadConfig } from '../foundation/config.js';
import { ConfigError } from '../foundation/errors.js';
import { createLogger } from '../foundation/logger.js';

export function registerConnectorCommands(program: Command): void {
  program
    .command('connector')
    .description(
      `run a department's sample connector over Kafka (departments: ${SAMPLE_DEPARTMENTS.map((d) => d.code).join(', ')})`,
    )
    .requiredOption('--department <code>', 'the department whose records this connector serves')
    .option('--instance-id <id>', 'unique name of this instance (default: host, pid and a random suffix)')
    .action(async (options: { department: string; instanceId?: string }) => {
      const config = loadConfig();
      if (config.kafkaBrokers.length === 0) {
        throw new ConfigError([
          'KAFKA_BROKERS is not set: a connector running on its own reaches the gateway over Kafka. ' +
            '(Without Kafka, `npm start` runs the sample connectors inside the gateway.)',
        ]);
      }
      const logger = createLogger(config.logLevel).child({ component: 'connector' });
      const bus = createKafkaBus({
        brokers: config.kafkaBrokers,
        clientId: `silobridge-connector-${options.department}`,
        logger: logger.child({ component: 'kafka' }),
        security: config.kafkaSecurity,
      });
      let connector: Awaited<ReturnType<typeof runSampleConnector>>;
      try {
        connector = await runSampleConnector({
          department: options.department,
          instanceId: options.instanceId,
          bus,
          topicPrefix: config.topicPrefix,
          logger,
        });
      } catch (error) {
        await bus.close();
        throw error;
      }
      logger.info(
        { department: connector.department, instanceId: connector.instanceId },
        'connector running',
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      await connector.stop();
      await bus.close();
      logger.info('connector stopped');
    });
}
