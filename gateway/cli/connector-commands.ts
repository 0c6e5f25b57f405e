/**
 * `silobridge connector`: runs a department connector over Kafka, as a department team runs it.
 *
 *   --config <file>        the department's own connector, from a configuration file (PostgreSQL
 *                          tables, HTTP services; connectors/examples/connector.yaml); `--check` only
 *                          checks the file, its key and its match with the certificate catalog
 *   --department <code>    a sample connector, signing with `--system <id> --key <private JWK file>`
 *
 * SIGTERM/SIGINT announce `down`, let in-flight lookups finish, and exit 0. A configuration file with
 * mistakes exits 1 listing them all; a bad environment (KAFKA_BROKERS ...) exits 2, as elsewhere.
 *
 * registerConnectorCommands returns the `connector` command so that others can hang subcommands on it
 * (`connector register`): without a subcommand, `connector` itself runs.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { readSigningKey } from '../../connectors/config/signing-key.js';
import { SAMPLE_DEPARTMENTS } from '../../connectors/samples/sample-departments.js';
import { createKafkaBus } from '../bus/kafka-bus.js';
import { runSampleConnector } from '../demo/run-sample-connector.js';
import { type GatewayConfig, loadConfig } from '../foundation/config.js';
import { ConfigError } from '../foundation/errors.js';
import { createLogger, type Logger } from '../foundation/logger.js';
import type { Bus } from '../protocol/bus.js';
import { SYSTEM_ID_PATTERN } from '../protocol/codes.js';
import {
  checkConnectorConfig,
  describeConnectorConfig,
  runConfiguredConnector,
} from './configured-connector.js';

interface ConnectorCommandOptions {
  config?: string;
  check?: boolean;
  department?: string;
  system?: string;
  key?: string;
  kid?: string;
  instanceId?: string;
}

export function registerConnectorCommands(program: Command): Command {
  // Subcommands of `connector` take options named like its own (--system, --department). Positional
  // options keep each command's options to itself: otherwise `connector register --system x` would
  // hand --system to `connector`. Commander needs it on the program and on `connector` both.
  program.enablePositionalOptions();
  return program
    .command('connector')
    .enablePositionalOptions()
    .description(
      "run a department's connector over Kafka: your own from a configuration file (--config), or a " +
        `sample one (--department ${SAMPLE_DEPARTMENTS.map((d) => d.code).join('|')})`,
    )
    .option('--config <file>', 'the connector configuration file (YAML or JSON)')
    .option('--check', 'with --config: only check the file, its signing key and the catalog, then exit')
    .option('--department <code>', 'run the sample connector of this department')
    .option('--system <id>', 'with --department: the connector system that signs, <department>/<system>')
    .option('--key <file>', "with --department: that system's private key (JWK, chmod 600)")
    .option('--kid <kid>', "with --department: the key's id, if its JWK has none")
    .option('--instance-id <id>', 'unique name of this instance (default: host, pid and a random suffix)')
    .action(async (options: ConnectorCommandOptions) => {
      if (options.config !== undefined && options.department !== undefined) {
        throw new Error(
          'give either --config <file> (your connector) or --department <code> (a sample connector), not both',
        );
      }
      if (options.config !== undefined) {
        const stray = (['system', 'key', 'kid'] as const).filter((name) => options[name] !== undefined);
        if (stray.length > 0) {
          throw new Error(
            `${stray.map((name) => `--${name}`).join(', ')} go${stray.length === 1 ? 'es' : ''} with --department; ` +
              'a configuration file names the signing system and key itself (system, signingKey, keyId)',
          );
        }
        return options.check
          ? checkConfigured(options.config, options.instanceId)
          : runConfigured(options.config, options.instanceId);
      }
      if (options.check) throw new Error('--check checks a configuration file: give it with --config <file>');
      if (options.department === undefined) {
        throw new Error(
          'give --config <file> to run your department’s connector, or --department <code> for a sample connector',
        );
      }
      return runSample(options.department, options);
    });
}

async function checkConfigured(file: string, instanceId: string | undefined): Promise<void> {
  const environment = loadConfig();
  const { config } = await checkConnectorConfig(file, process.env);
  const brokers = config.kafkaBrokers
    ? `${config.kafkaBrokers.join(', ')} (from the file)`
    : environment.kafkaBrokers.length > 0
      ? `${environment.kafkaBrokers.join(', ')} (from KAFKA_BROKERS)`
      : 'none yet: set kafka.brokers in the file, or KAFKA_BROKERS, before running';
  process.stdout.write(
    describeConnectorConfig(config, {
      brokers,
      topicPrefix: config.topicPrefix ?? environment.topicPrefix,
      instanceId,
    }),
  );
}

async function runConfigured(file: string, instanceId: string | undefined): Promise<void> {
  const environment = loadConfig();
  const checked = await checkConnectorConfig(file, process.env);
  const { config } = checked;
  const logger = createLogger(environment.logLevel).child({ component: 'connector' });
  const brokers = config.kafkaBrokers ?? environment.kafkaBrokers;
  if (brokers.length === 0) {
    throw new ConfigError([
      `no Kafka brokers: name them in ${file} (kafka.brokers) or in KAFKA_BROKERS; a connector reaches the gateway over Kafka.`,
    ]);
  }
  if (config.kafkaBrokers && environment.kafkaBrokers.length > 0) {
    logger.warn(
      { brokers: config.kafkaBrokers, ignored: environment.kafkaBrokers },
      `kafka.brokers in ${file} is used; KAFKA_BROKERS is ignored`,
    );
  }
  await runUntilSignalled({
    environment,
    brokers,
    department: config.department,
    logger,
    start: (bus) =>
      runConfiguredConnector({
        ...checked,
        bus,
        topicPrefix: config.topicPrefix ?? environment.topicPrefix,
        logger,
        instanceId,
      }),
  });
}

async function runSample(department: string, options: ConnectorCommandOptions): Promise<void> {
  if (options.system === undefined || options.key === undefined) {
    throw new Error(
      'a connector signs its replies: give --system <department>/<system> (a connector system of the ' +
        'department) and --key <file> (its private key, from silobridge keys generate --alg ES256)',
    );
  }
  if (!SYSTEM_ID_PATTERN.test(options.system)) {
    throw new Error(`--system ${JSON.stringify(options.system)} is not a system id (<department>/<system>)`);
  }
  if (!options.system.startsWith(`${department}/`)) {
    throw new Error(
      `--system ${options.system} is not a system of ${department}: a connector signs as one of its own department's systems`,
    );
  }
  const environment = loadConfig();
  if (environment.kafkaBrokers.length === 0) {
    throw new ConfigError([
      'KAFKA_BROKERS is not set: a connector running on its own reaches the gateway over Kafka. ' +
        '(Without Kafka, `npm start` runs the sample connectors inside the gateway.)',
    ]);
  }
  const signer = await readSigningKey({
    systemId: options.system,
    keyFile: path.resolve(options.key),
    keyId: options.kid,
  });
  const logger = createLogger(environment.logLevel).child({ component: 'connector' });
  await runUntilSignalled({
    environment,
    brokers: environment.kafkaBrokers,
    department,
    logger,
    start: async (bus) => {
      const connector = await runSampleConnector({
        department,
        instanceId: options.instanceId,
        bus,
        topicPrefix: environment.topicPrefix,
        signer,
        logger,
      });
      return { connector, stop: () => connector.stop() };
    },
  });
}

/** Connects to Kafka, starts the connector, and on SIGTERM or SIGINT stops it and disconnects. */
async function runUntilSignalled(options: {
  environment: GatewayConfig;
  brokers: string[];
  department: string;
  logger: Logger;
  start: (
    bus: Bus,
  ) => Promise<{ connector: { department: string; instanceId: string }; stop(): Promise<void> }>;
}): Promise<void> {
  const { logger } = options;
  const bus = createKafkaBus({
    brokers: options.brokers,
    clientId: `silobridge-connector-${options.department}`,
    // Not a child of the connector's logger: pino would write `component` twice.
    logger: createLogger(options.environment.logLevel).child({ component: 'kafka' }),
    security: options.environment.kafkaSecurity,
    commitIntervalMs: options.environment.kafkaCommitIntervalMs,
  });
  let running: Awaited<ReturnType<typeof options.start>>;
  try {
    running = await options.start(bus);
  } catch (error) {
    await bus.close();
    throw error;
  }
  logger.info(
    { department: running.connector.department, instanceId: running.connector.instanceId },
    'connector running',
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await running.stop();
  await bus.close();
  logger.info('disconnected from Kafka; exiting');
}
