/**
 * Wires the accountability capability: the hash-chained audit log (with checkpoints signed by the
 * gateway's keys, gateway/signing/) and the data officers' routes over it. Review sampling is a
 * capability of its own (gateway/review/).
 */
import type { Router } from 'express';
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../foundation/config.js';
import type { Logger } from '../foundation/logger.js';
import type { Database } from '../storage/database.js';
import type { CheckpointSigner } from './audit-checkpoints.js';
import { type AuditLog, createAuditLog } from './audit-log.js';
import { createAuditRouter } from './audit-routes.js';
import { createAuditReader } from './audit-service.js';
import { createSubjectHasher, type SubjectHasher } from './subject-hash.js';

/** The batching and checkpoint settings (SILOBRIDGE_AUDIT_*); each has a default. */
export type AuditConfig = Partial<
  Pick<
    GatewayConfig,
    | 'auditBatchMaxEvents'
    | 'auditBatchMaxWaitMs'
    | 'auditCheckpointEvery'
    | 'auditCheckpointIntervalMs'
    | 'auditRecordTimeoutMs'
  >
>;

export interface Audit {
  log: AuditLog;
  hashSubject: SubjectHasher;
  /** /v1/audit/** (role `audit`): mount after authentication. */
  router: Router;
  /** Flushes the log, signs a last checkpoint, stops timers. Call before closing the database. */
  stop(): Promise<void>;
}

export interface StartAuditOptions {
  config: AuditConfig;
  database: Database;
  /** SILOBRIDGE_AUDIT_HMAC_KEY: subject identifiers are stored only as HMACs under it. */
  hmacKey: string;
  /** Signs checkpoints: the gateway's signing keys. */
  signer: CheckpointSigner;
  logger: Logger;
  registry?: Registry;
}

export async function startAudit(options: StartAuditOptions): Promise<Audit> {
  const { config, database, hmacKey, signer } = options;
  const log = await createAuditLog({
    database,
    hmacKey,
    logger: options.logger,
    signer,
    batchMaxEvents: config.auditBatchMaxEvents,
    batchMaxWaitMs: config.auditBatchMaxWaitMs,
    checkpointEvery: config.auditCheckpointEvery,
    checkpointIntervalMs: config.auditCheckpointIntervalMs,
    recordTimeoutMs: config.auditRecordTimeoutMs,
    registry: options.registry,
  });
  const hashSubject = createSubjectHasher(hmacKey);
  return {
    log,
    hashSubject,
    router: createAuditRouter({ auditReader: createAuditReader(database), audit: log, hashSubject }),
    stop: () => log.close(),
  };
}
