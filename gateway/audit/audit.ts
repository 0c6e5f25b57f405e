/**
 * Wires the accountability capability: the hash-chained audit log (with checkpoints signed by the
 * gateway's keys, gateway/signing/), the data officers' routes over it, and the checkpoints'
 * publication outside the database (the newest in every signed response, a Kafka topic, files, a
 * public feed). Review sampling is a capability of its own (gateway/review/).
 */
import type { Router } from 'express';
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../foundation/config.js';
import type { Logger } from '../foundation/logger.js';
import type { Bus } from '../protocol/bus.js';
import { ensureCheckpointTopic, topicNames } from '../protocol/topics.js';
import type { Database } from '../storage/database.js';
import { type CheckpointSigner, readCheckpointsAfter } from './audit-checkpoints.js';
import { type AuditLog, createAuditLog } from './audit-log.js';
import { createAuditRouter } from './audit-routes.js';
import { createAuditReader } from './audit-service.js';
import { createCheckpointFeedRouter } from './checkpoint-feed-routes.js';
import { createCheckpointPublication } from './checkpoint-publication.js';
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
    | 'auditCheckpointDir'
    | 'topicPrefix'
  >
>;

export interface Audit {
  log: AuditLog;
  hashSubject: SubjectHasher;
  /** /v1/audit/** (role `audit`): mount after authentication. */
  router: Router;
  /** GET /.well-known/audit-checkpoints: public, mount outside authentication. */
  publicRouter: Router;
  /** The newest signed checkpoint (compact JWS), for lookup responses to carry; from memory. */
  latestCheckpoint(): string | undefined;
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
  /** Publishes every checkpoint to `<topicPrefix>.audit-checkpoints` when it is Kafka. */
  bus?: Bus;
}

export async function startAudit(options: StartAuditOptions): Promise<Audit> {
  const { config, database, hmacKey, signer, bus } = options;
  const topics = topicNames(config.topicPrefix ?? 'silobridge');
  const publication = createCheckpointPublication({
    database,
    logger: options.logger,
    bus,
    topic: topics.auditCheckpoints,
    ensureTopic: bus ? () => ensureCheckpointTopic(bus, topics) : undefined,
    directory: config.auditCheckpointDir,
  });
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
    onCheckpoint: publication.seen,
  });
  publication.republishNewest();
  const hashSubject = createSubjectHasher(hmacKey);
  return {
    log,
    hashSubject,
    router: createAuditRouter({ auditReader: createAuditReader(database), audit: log, hashSubject }),
    publicRouter: createCheckpointFeedRouter((after, limit) => readCheckpointsAfter(database, after, limit)),
    latestCheckpoint: publication.latest,
    async stop() {
      await log.close();
      await publication.settle();
    },
  };
}
