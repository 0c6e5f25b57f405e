/**
 * `silobridge connector register|list|remove`: connector registrations from the operator's command
 * line, with the same checks as POST /v1/connectors (types in the catalog, held by the department, a
 * connector key to sign with). With KAFKA_BROKERS set, `register` also creates the department's
 * request topic; otherwise the gateway creates it when it next starts.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Caller } from '../access/caller.js';
import { createKafkaBus } from '../bus/kafka-bus.js';
import { loadSchemaCatalog } from '../catalog/schema-catalog.js';
import type { GatewayConfig } from '../foundation/config.js';
import { createLogger } from '../foundation/logger.js';
import { schemasDir } from '../foundation/paths.js';
import { ensureSharedTopics, topicNames } from '../protocol/topics.js';
import { type ConnectorSetup, createConnectorRegistrations } from '../registry/connector-registrations.js';
import type { Registry } from '../registry/registry.js';
import { createRegistryCli, type IdentityCliContext } from './registry-cli.js';

export interface ConnectorRegistrationCliContext extends IdentityCliContext {
  gatewayConfig: () => Pick<
    GatewayConfig,
    'kafkaBrokers' | 'kafkaSecurity' | 'topicPrefix' | 'requestTopicRetentionMs'
  >;
}

/** `business-licence` or `business-licence@1`. */
function parseType(value: string): { certificateType: string; schemaVersion?: number } {
  const [certificateType = '', version] = value.split('@');
  if (version === undefined) return { certificateType };
  if (!/^[1-9][0-9]{0,3}$/.test(version))
    throw new Error(`--type ${value}: the schema version after @ must be a number`);
  return { certificateType, schemaVersion: Number(version) };
}

export function registerConnectorRegistrationCommands(
  connector: Command,
  context: ConnectorRegistrationCliContext,
): void {
  const { out, err, actor, json, run, withRegistry } = createRegistryCli(context);
  // The operator at the command line acts as an administrator, as for `systems add`.
  const operatorCaller: Caller = { systemId: actor, department: '', roles: ['admin'] };

  async function registrations(registry: Registry) {
    const config = context.gatewayConfig();
    return createConnectorRegistrations({
      registry,
      catalog: await loadSchemaCatalog(schemasDir),
      topics: topicNames(config.topicPrefix),
      topicPrefix: config.topicPrefix,
      requestTopicRetentionMs: config.requestTopicRetentionMs,
      ensureRequestTopic: async (department) => {
        if (config.kafkaBrokers.length === 0) {
          // On stderr: stdout is the registration's JSON, for jq.
          err(
            'silobridge: KAFKA_BROKERS is not set: running gateways create the request topic within a minute.\n',
          );
          return;
        }
        const bus = createKafkaBus({
          brokers: config.kafkaBrokers,
          clientId: 'silobridge-cli',
          logger: createLogger('warn'),
          security: config.kafkaSecurity,
        });
        try {
          const topics = topicNames(config.topicPrefix);
          await ensureSharedTopics(bus, topics, [department], config.requestTopicRetentionMs);
        } finally {
          await bus.close();
        }
      },
    });
  }

  connector
    .command('register')
    .description("declare the certificate types a department's connector answers (as POST /v1/connectors)")
    .requiredOption('--department <code>', 'the department')
    .requiredOption(
      '--type <types...>',
      'certificate types it answers, each optionally with @<schema version>',
    )
    .option('--config-out <file>', 'also write the ready connector.yaml here')
    .action(
      run(async (options: { department: string; type: string[]; configOut?: string }) => {
        const setup = await withRegistry(async (registry) =>
          (await registrations(registry)).register(operatorCaller, {
            department: options.department,
            certificateTypes: options.type.map(parseType),
          }),
        );
        if (options.configOut) await writeFile(options.configOut, setup.configFile, { flag: 'wx' });
        json(setup);
      }),
    );

  connector
    .command('list')
    .description('the registered connectors')
    .option('--json', 'everything, as JSON')
    .action(
      run(async (options: { json?: boolean }) => {
        const setups = await withRegistry(async (registry) => (await registrations(registry)).list());
        if (options.json) return json({ connectors: setups });
        out(setups.length === 0 ? 'No connector is registered.\n' : `${setups.map(summary).join('\n')}\n`);
      }),
    );

  connector
    .command('remove <department>')
    .description("remove a department's registration: new lookups for its types get 503 at once")
    .action(
      run(async (department: string) => {
        const removed = await withRegistry(async (registry) =>
          (await registrations(registry)).remove(operatorCaller, department),
        );
        out(`Removed the connector registration of ${removed.department}.\n`);
      }),
    );
}

function summary(setup: ConnectorSetup): string {
  const types = setup.certificateTypes.map((type) => `${type.certificateType}@${type.schemaVersion}`);
  return `${setup.department.padEnd(24)} ${types.join(', ')}  (keys: ${setup.signing.keyIds.join(', ') || 'none'})`;
}
