/**
 * A department's connector from its configuration file (`silobridge connector --config <file>`):
 * loading and checking the file against the certificate catalog, a summary of what it serves for
 * `--check`, and the running connector, its handlers built by the configured adapters.
 */
import type { CatalogView } from '../../connectors/config/catalog-check.js';
import { createConfiguredHandlers } from '../../connectors/config/configured-handlers.js';
import type { ConnectorConfig } from '../../connectors/config/connector-config.js';
import { loadConnectorConfig } from '../../connectors/config/load-connector-config.js';
import { type Connector, createConnector } from '../../connectors/runtime/connector-runtime.js';
import { connectorSchemaChecks, loadSchemaCatalog, type SchemaCatalog } from '../catalog/schema-catalog.js';
import type { Logger } from '../foundation/logger.js';
import { schemasDir } from '../foundation/paths.js';
import type { Bus } from '../protocol/bus.js';

/** The gateway's SchemaCatalog is the catalog the connector configuration is checked against. */
const asCatalogView = (catalog: SchemaCatalog): CatalogView => catalog;

export interface CheckedConnectorConfig {
  config: ConnectorConfig;
  catalog: SchemaCatalog;
}

/** Loads the file and checks it against the shared schemas; throws ConnectorConfigError with every mistake. */
export async function checkConnectorConfig(
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<CheckedConnectorConfig> {
  const catalog = await loadSchemaCatalog(schemasDir);
  const config = await loadConnectorConfig(file, { env, catalog: asCatalogView(catalog) });
  return { config, catalog };
}

/** What `--check` prints: what the connector would serve, and how; never a secret. */
export function describeConnectorConfig(
  config: ConnectorConfig,
  settings: { brokers: string; topicPrefix: string; instanceId?: string },
): string {
  const lines = [
    `${config.file} is valid.`,
    `  department:   ${config.department}`,
    `  signs as:     ${config.signer.keyId} (key ${config.signingKeyFile})`,
    `  instance id:  ${settings.instanceId ?? config.instanceId ?? 'host, process id and a random suffix'}`,
    `  topic prefix: ${settings.topicPrefix}`,
    `  kafka:        ${settings.brokers}`,
    '  certificate types:',
  ];
  for (const [type, source] of Object.entries(config.certificateTypes)) {
    const served = `    ${type} (schema version ${source.schemaVersion}): `;
    if (source.kind === 'postgres') {
      const { postgres } = source;
      const details = [
        `${Object.keys(postgres.recordColumns).length} fields`,
        `looked up by ${Object.keys(postgres.subjectColumns).join(', ')}`,
        `pool of ${postgres.poolSize ?? 10}`,
        ...(postgres.statementTimeoutMs === undefined
          ? []
          : [`statement timeout ${postgres.statementTimeoutMs} ms`]),
      ];
      lines.push(`${served}PostgreSQL table ${postgres.table} (${details.join('; ')})`);
    } else {
      const { http } = source;
      const details = [
        `timeout ${http.timeoutMs ?? 10_000} ms`,
        ...(Object.keys(http.headers).length > 0 ? [`headers ${Object.keys(http.headers).join(', ')}`] : []),
        http.response.fields
          ? `${Object.keys(http.response.fields).length} fields mapped`
          : 'the record as the API sends it',
      ];
      const paths = http.paths.map(
        (template) => `GET ${withSlash(http.baseUrl)}${template.replace(/^\/+/, '')}`,
      );
      lines.push(`${served}HTTP ${paths.join(' | ')} (${details.join('; ')})`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface ConfiguredConnectorOptions extends CheckedConnectorConfig {
  bus: Bus;
  topicPrefix: string;
  logger: Logger;
  /** Overrides the file's instanceId (`--instance-id`), e.g. for several instances of one file. */
  instanceId?: string;
}

export interface RunningConfiguredConnector {
  connector: Connector;
  /** Stops the connector (announcing `down`, finishing lookups in hand), then closes its database pools. */
  stop(): Promise<void>;
}

export async function runConfiguredConnector(
  options: ConfiguredConnectorOptions,
): Promise<RunningConfiguredConnector> {
  const { config, catalog } = options;
  const configured = createConfiguredHandlers(config);
  try {
    const connector = createConnector({
      bus: options.bus,
      department: config.department,
      instanceId: options.instanceId ?? config.instanceId,
      topicPrefix: options.topicPrefix,
      signer: config.signer,
      handlers: configured.handlers,
      concurrency: config.concurrency,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      handlerTimeoutMs: config.handlerTimeoutMs,
      logger: options.logger,
      ...connectorSchemaChecks(catalog),
    });
    await connector.start();
    return {
      connector,
      async stop() {
        await connector.stop();
        await configured.close();
      },
    };
  } catch (error) {
    await configured.close();
    throw error;
  }
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
