/**
 * Starts sample department connectors: one department (`silobridge connector --department <code>`) or
 * all of them on one bus (the embedded demo, where the gateway runs without Kafka).
 */

import { type Connector, createConnector } from '../../connectors/runtime/connector-runtime.js';
import { createSampleHandlers } from '../../connectors/samples/sample-connectors.js';
import { SAMPLE_DEPARTMENTS } from '../../connectors/samples/sample-departments.js';
import { connectorSchemaChecks, loadSchemaCatalog, type SchemaCatalog } from '../catalog/schema-catalog.js';
import type { Logger } from '../foundation/logger.js';
import { sampleSeedDir, schemasDir } from '../foundation/paths.js';
import type { Bus } from '../protocol/bus.js';
import type { DepartmentSigner } from '../protocol/department-signature.js';

export interface SampleConnectorOptions {
  department: string;
  bus: Bus;
  topicPrefix: string;
  logger: Logger;
  instanceId?: string;
  /** Signs replies and heartbeats with a key of one of the department's `connector` systems. */
  signer: DepartmentSigner;
  /** Checks requests and records against the shared schemas; loaded from `schemas/` when not given. */
  catalog?: SchemaCatalog;
  heartbeatIntervalMs?: number;
}

export async function runSampleConnector(options: SampleConnectorOptions): Promise<Connector> {
  const catalog = options.catalog ?? (await loadSchemaCatalog(schemasDir));
  const connector = createConnector({
    bus: options.bus,
    department: options.department,
    instanceId: options.instanceId,
    topicPrefix: options.topicPrefix,
    signer: options.signer,
    handlers: createSampleHandlers(options.department, sampleSeedDir),
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    logger: options.logger,
    ...connectorSchemaChecks(catalog),
  });
  await connector.start();
  return connector;
}

export interface SampleConnectors {
  connectors: Connector[];
  stop(): Promise<void>;
}

export async function startAllSampleConnectors(
  options: Omit<SampleConnectorOptions, 'department' | 'instanceId' | 'signer'> & {
    signerFor(department: string): DepartmentSigner;
  },
): Promise<SampleConnectors> {
  const catalog = options.catalog ?? (await loadSchemaCatalog(schemasDir));
  const started: Connector[] = [];
  const stop = async () => {
    await Promise.all(started.map((connector) => connector.stop()));
  };
  try {
    for (const department of SAMPLE_DEPARTMENTS) {
      started.push(
        await runSampleConnector({
          ...options,
          catalog,
          department: department.code,
          signer: options.signerFor(department.code),
          logger: options.logger.child({ sample: department.code }),
        }),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { connectors: started, stop };
}
