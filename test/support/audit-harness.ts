/**
 * The accountability parts wired as gateway/gateway.ts wires them (secrets from the data folder, the
 * signing keys, the audit log, the officers' audit and review routes), for tests of the audit
 * capability without the rest of the gateway.
 */
import type { Router } from 'express';
import { type Audit, type AuditConfig, startAudit } from '../../gateway/audit/audit.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { resolveGatewaySecrets } from '../../gateway/foundation/secrets.js';
import { createPublishedReviewRouter, createReviewRouter } from '../../gateway/review/review-routes.js';
import { createReviewService } from '../../gateway/review/review-service.js';
import { type Signing, startSigning } from '../../gateway/signing/signing.js';
import type { Database } from '../../gateway/storage/database.js';

export interface AuditHarness {
  audit: Audit;
  signing: Signing;
  /** JWKS, audit routes and review routes (and published reviews), to mount after a test's caller middleware. */
  routers: Router[];
  stop(): Promise<void>;
}

export async function startAuditHarness(
  database: Database,
  dataDir: string,
  config: AuditConfig = {},
): Promise<AuditHarness> {
  const secrets = await resolveGatewaySecrets({ dataDir });
  const signing = await startSigning({ database, secret: secrets.signingKeySecret });
  const audit = await startAudit({
    config,
    database,
    hmacKey: secrets.hmacKey,
    signer: signing.keys,
    logger: createLogger('silent'),
  });
  const reviews = createReviewService(database);
  return {
    audit,
    signing,
    routers: [
      signing.jwksRouter,
      audit.router,
      createReviewRouter({ reviews, audit: audit.log }),
      createPublishedReviewRouter({ reviews }),
    ],
    async stop() {
      try {
        await audit.stop();
      } finally {
        signing.close();
      }
    },
  };
}
