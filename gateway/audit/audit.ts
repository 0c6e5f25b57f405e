/**
 * Wires the accountability capability: the gateway's signing keys, the hash-chained audit log (with
 * signed checkpoints), the response signer, the data officers' routes and the public JWKS. Secrets
 * come from the configuration; the embedded single-instance gateway makes its own on first start
 * (gateway/signing/secret-file.ts), instances sharing PostgreSQL must all be given the same ones.
 */
import path from 'node:path';
import type { Router } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import { createSubjectKeyer, type SubjectKeyer } from '../lookups/subject-key.js';
import { createJwksRouter } from '../signing/jwks-routes.js';
import { createResponseSigner, type ResponseSigner } from '../signing/response-signer.js';
import { loadOrCreateSecret, readSecretIfPresent } from '../signing/secret-file.js';
import { openSigningKeyRing, type SigningKeyRing } from '../signing/signing-keys.js';
import type { Database } from '../storage/database.js';
import { type AuditLog, createAuditLog } from './audit-log.js';
import { createAuditRouter } from './audit-routes.js';
import { createSubjectHasher, type SubjectHasher } from './subject-hash.js';

/** What the audit capability reads from the gateway configuration (gateway/config.ts). */
export interface AuditConfig {
  dataDir: string;
  /** SILOBRIDGE_AUDIT_HMAC_KEY: key of the subject-identifier HMAC; unset = `<dataDir>/secrets/audit-hmac.key`. */
  auditHmacKey?: string;
  /** SILOBRIDGE_SIGNING_KEY_SECRET: seals the signing keys in the database; unset = `<dataDir>/secrets/signing-key.secret`. */
  signingKeySecret?: string;
  /** SILOBRIDGE_AUDIT_BATCH_MAX_EVENTS (default 500). */
  auditBatchMaxEvents?: number;
  /** SILOBRIDGE_AUDIT_BATCH_MAX_WAIT_MS (default 0). */
  auditBatchMaxWaitMs?: number;
  /** SILOBRIDGE_AUDIT_CHECKPOINT_EVERY (default 1000 events). */
  auditCheckpointEvery?: number;
  /** SILOBRIDGE_AUDIT_CHECKPOINT_INTERVAL_MS (default 60000). */
  auditCheckpointIntervalMs?: number;
  /** SILOBRIDGE_AUDIT_RECORD_TIMEOUT_MS (default 5000): longer than this without a commit = 503. */
  auditRecordTimeoutMs?: number;
}

export interface AuditSecrets {
  hmacKey: string;
  signingKeySecret: string;
}

export const secretFiles = (dataDir: string) => ({
  hmacKey: path.join(dataDir, 'secrets', 'audit-hmac.key'),
  signingKeySecret: path.join(dataDir, 'secrets', 'signing-key.secret'),
});

/**
 * The secret a gateway on this configuration uses, for commands run beside it (the CLI): from the
 * environment or the gateway's secret file, never a new one. Undefined if there is none yet.
 */
export async function existingAuditSecret(
  config: AuditConfig,
  name: keyof AuditSecrets,
): Promise<string | undefined> {
  const given = name === 'hmacKey' ? config.auditHmacKey : config.signingKeySecret;
  return given ?? (await readSecretIfPresent(secretFiles(config.dataDir)[name]));
}

export async function resolveAuditSecrets(config: AuditConfig): Promise<AuditSecrets> {
  const files = secretFiles(config.dataDir);
  return {
    hmacKey: config.auditHmacKey ?? (await loadOrCreateSecret(files.hmacKey)),
    signingKeySecret: config.signingKeySecret ?? (await loadOrCreateSecret(files.signingKeySecret)),
  };
}

export interface Audit {
  log: AuditLog;
  keys: SigningKeyRing;
  responses: ResponseSigner;
  hashSubject: SubjectHasher;
  /** Kafka record keys for subjects, keyed by a secret derived from the same HMAC key. */
  subjectKey: SubjectKeyer;
  /** /v1/audit/** (role `audit`): mount after authentication. */
  router: Router;
  /** /.well-known/jwks.json: public, mount outside authentication. */
  jwksRouter: Router;
  /** Flushes the log, signs a last checkpoint, stops timers. Call before closing the database. */
  stop(): Promise<void>;
}

export interface StartAuditOptions {
  config: AuditConfig;
  database: Database;
  logger: Logger;
  registry?: Registry;
}

export async function startAudit(options: StartAuditOptions): Promise<Audit> {
  const { config, database } = options;
  const secrets = await resolveAuditSecrets(config);
  const keys = await openSigningKeyRing({ database, secret: secrets.signingKeySecret });
  try {
    const log = await createAuditLog({
      database,
      hmacKey: secrets.hmacKey,
      logger: options.logger,
      signer: keys,
      batchMaxEvents: config.auditBatchMaxEvents,
      batchMaxWaitMs: config.auditBatchMaxWaitMs,
      checkpointEvery: config.auditCheckpointEvery,
      checkpointIntervalMs: config.auditCheckpointIntervalMs,
      recordTimeoutMs: config.auditRecordTimeoutMs,
      registry: options.registry,
    });
    const hashSubject = createSubjectHasher(secrets.hmacKey);
    return {
      log,
      keys,
      responses: createResponseSigner(keys),
      hashSubject,
      subjectKey: createSubjectKeyer(secrets.hmacKey),
      router: createAuditRouter({ database, audit: log, hashSubject }),
      jwksRouter: createJwksRouter(keys),
      async stop() {
        try {
          await log.close();
        } finally {
          keys.close();
        }
      },
    };
  } catch (error) {
    keys.close();
    throw error;
  }
}
