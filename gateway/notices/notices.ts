/**
 * Wires change notices (docs/notices.md): the intake of departments' change events from Kafka, the
 * delivery worker, the subscribers' event streams, and the routes for subscriptions and webhook
 * targets. Deliveries live in the database, so what one instance took in, any instance delivers, and
 * nothing pending is lost when an instance stops.
 */
import { type RequestHandler, Router } from 'express';
import type { AuditRecorder } from '../audit/audit-events.js';
import type { SubjectHasher } from '../audit/subject-hash.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import type { GatewayConfig } from '../foundation/config.js';
import type { Logger } from '../foundation/logger.js';
import type { ProviderSignatures } from '../lookups/provider-signatures.js';
import type { PolicyEngine } from '../policy/policy-engine.js';
import type { Bus } from '../protocol/bus.js';
import { topicNames } from '../protocol/topics.js';
import type { Registry } from '../registry/registry.js';
import type { SigningKeyRing } from '../signing/signing-keys.js';
import type { Database } from '../storage/database.js';
import { startChangeIntake } from './change-intake.js';
import { CHANGE_NOTICE_TYP } from './change-notice.js';
import { startNoticeDelivery } from './notice-delivery.js';
import { createNoticeStore } from './notice-store.js';
import { createNoticeStreams, type NoticeStreams } from './notice-streams.js';
import { createSubscriptionRouter } from './subscription-routes.js';
import { createSubscriptionService } from './subscription-service.js';
import { createWebhookTargetRouter } from './webhook-target-routes.js';

export interface NoticesOptions {
  config: Pick<GatewayConfig, 'topicPrefix' | 'noticeRetry' | 'noticeRetentionDays'>;
  database: Database;
  bus: Bus;
  catalog: SchemaCatalog;
  registry: Registry;
  signatures: Pick<ProviderSignatures, 'verifyChange'>;
  policy: Pick<PolicyEngine, 'check' | 'authorize'>;
  audit: AuditRecorder;
  hashSubject: SubjectHasher;
  keys: Pick<SigningKeyRing, 'sign'>;
  authenticate: RequestHandler;
  logger: Logger;
}

export interface Notices {
  router: Router;
  streams: NoticeStreams;
  /** Resolves once change events are being read (readiness). */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

export async function startNotices(options: NoticesOptions): Promise<Notices> {
  const { config, database, bus, catalog, registry, policy, audit, hashSubject, authenticate, logger } =
    options;
  const store = createNoticeStore(database);
  const streams = createNoticeStreams();
  const delivery = startNoticeDelivery({
    store,
    policy,
    audit,
    hashSubject,
    sign: (notice) => options.keys.sign(notice, CHANGE_NOTICE_TYP),
    streams,
    logger: logger.child({ component: 'notice-delivery' }),
    retry: config.noticeRetry,
    retentionMs: config.noticeRetentionDays * 24 * 60 * 60_000,
  });
  let intake: Awaited<ReturnType<typeof startChangeIntake>>;
  try {
    intake = await startChangeIntake({
      bus,
      topics: topicNames(config.topicPrefix),
      store,
      catalog,
      signatures: options.signatures,
      hashSubject,
      departments: async () => (await registry.listRegistrations()).map((r) => r.department),
      onDeliveries: () => delivery.wake(),
      logger: logger.child({ component: 'change-intake' }),
    });
  } catch (error) {
    await delivery.stop();
    throw error;
  }
  const subscriptions = createSubscriptionService({ store, catalog, policy, registry, audit, hashSubject });
  const router = Router().use(
    createSubscriptionRouter({ subscriptions, streams, onStream: () => delivery.wake(), authenticate }),
    createWebhookTargetRouter({ subscriptions, authenticate }),
  );
  return {
    router,
    streams,
    ready: () => intake.ready(),
    async stop() {
      streams.closeAll();
      await intake.stop();
      await delivery.stop();
    },
  };
}
