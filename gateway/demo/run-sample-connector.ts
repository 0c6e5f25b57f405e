/**
 * Starts sample department connectors: one department (`silobridge connector --department <code>`) or
 * all of them on one bus (the embedded demo, where the gateway runs without Kafka). Each can change a
 * record it holds and publish the signed change event (applyChange), for the demo's revocations.
 */

import { type Connector, createConnector } from '../../connectors/runtime/connector-runtime.js';
import {
  applySampleChange,
  createSampleHandlers,
  type SampleChange,
  SampleChangeError,
} from '../../connectors/samples/sample-connectors.js';
import { SAMPLE_DEPARTMENTS } from '../../connectors/samples/sample-departments.js';
import { connectorSchemaChecks, loadSchemaCatalog, type SchemaCatalog } from '../catalog/schema-catalog.js';
import type { Logger } from '../foundation/logger.js';
import { sampleSeedDir, schemasDir } from '../foundation/paths.js';
import type { Bus } from '../protocol/bus.js';
import type { DepartmentSigner } from '../protocol/department-signature.js';
import type { RecordChangeEnvelope } from '../protocol/envelopes.js';

export { type SampleChange, SampleChangeError };

export interface SampleConnectorOptions {
  department: string;
  bus: Bus;
  topicPrefix: string;
  logger: Logger;
  instanceId?: string;
  /** Signs replies, heartbeats and change events with a key of one of the department's `connector` systems. */
  signer: DepartmentSigner;
  /** Checks requests and records against the shared schemas; loaded from `schemas/` when not given. */
  catalog?: SchemaCatalog;
  heartbeatIntervalMs?: number;
}

export interface SampleConnector extends Connector {
  /**
   * Changes the record this department holds for `change.subject` (in memory: later lookups answer
   * the new record) and publishes the signed change event; resolves with the event as published.
   * Refusals: SampleChangeError (no such record, an invalid change or resulting record) and
   * RecordChangeError (a type the department does not hold, a connector not running).
   */
  applyChange(change: SampleChange): Promise<RecordChangeEnvelope>;
}

export async function runSampleConnector(options: SampleConnectorOptions): Promise<SampleConnector> {
  const catalog = options.catalog ?? (await loadSchemaCatalog(schemasDir));
  const handlers = createSampleHandlers(options.department, sampleSeedDir);
  const connector = createConnector({
    bus: options.bus,
    department: options.department,
    instanceId: options.instanceId,
    topicPrefix: options.topicPrefix,
    signer: options.signer,
    handlers,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    logger: options.logger,
    ...connectorSchemaChecks(catalog),
  });
  await connector.start();
  return Object.assign(connector, {
    applyChange: (change: SampleChange) =>
      applySampleChange(
        {
          connector,
          handlers,
          validateRecord: (certificateType, schemaVersion, record) =>
            catalog.validateRecord(certificateType, schemaVersion, record),
        },
        change,
      ),
  });
}

export interface SampleConnectors {
  connectors: SampleConnector[];
  /** applyChange of the named department's connector (see SampleConnector). */
  applyChange(department: string, change: SampleChange): Promise<RecordChangeEnvelope>;
  stop(): Promise<void>;
}

export async function startAllSampleConnectors(
  options: Omit<SampleConnectorOptions, 'department' | 'instanceId' | 'signer'> & {
    signerFor(department: string): DepartmentSigner;
  },
): Promise<SampleConnectors> {
  const catalog = options.catalog ?? (await loadSchemaCatalog(schemasDir));
  const started: SampleConnector[] = [];
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
  const applyChange = async (department: string, change: SampleChange) => {
    const connector = started.find((candidate) => candidate.department === department);
    if (!connector) {
      throw new SampleChangeError(
        'unknown-department',
        `no sample connector runs for department ${JSON.stringify(department)}; they run for: ${started.map((running) => running.department).join(', ')}`,
      );
    }
    return connector.applyChange(change);
  };
  return { connectors: started, applyChange, stop };
}
