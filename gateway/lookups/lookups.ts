/**
 * Wires the lookup capability: the reply router on this instance's reply topic, the connector
 * directory on the heartbeat topic, connector registration, the service and its routes, and the
 * readiness checks they add.
 */
import type { RequestHandler, Router } from 'express';
import { Counter, Histogram, type Registry as MetricsRegistry } from 'prom-client';
import type { LookupPolicy } from '../access/lookup-terms.js';
import type { AuditRecorder } from '../audit/audit-events.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import type { GatewayConfig } from '../foundation/config.js';
import type { Logger } from '../foundation/logger.js';
import type { ReadinessCheck } from '../health/health-routes.js';
import type { Bus } from '../protocol/bus.js';
import type { SubjectKeyer } from '../protocol/subject-key.js';
import { ensureSharedTopics, topicNames } from '../protocol/topics.js';
import { createConnectorRegistrationRouter } from '../registry/connector-registration-routes.js';
import { createConnectorRegistrations } from '../registry/connector-registrations.js';
import type { Registry } from '../registry/registry.js';
import { ConnectorDirectory } from './connector-directory.js';
import { createLookupRouter, type LookupSigner } from './lookup-routes.js';
import { LookupService } from './lookup-service.js';
import { createProviderSignatures } from './provider-signatures.js';
import { ReplyRouter } from './reply-router.js';

/** How often a gateway looks for registrations whose request topic it has not made yet. */
const REQUEST_TOPIC_RECONCILE_MS = 30_000;

export interface LookupsOptions {
  config: Pick<GatewayConfig, 'topicPrefix' | 'instanceId' | 'lookupTimeoutMs' | 'requestTopicRetentionMs'>;
  bus: Bus;
  catalog: SchemaCatalog;
  logger: Logger;
  /** Systems, their keys and connector registrations: who may answer for a department. */
  registry: Registry;
  metricsRegistry: MetricsRegistry;
  policy: LookupPolicy;
  audit: AuditRecorder;
  authenticate: RequestHandler;
  sign: LookupSigner;
  subjectKey: SubjectKeyer;
}

export interface Lookups {
  router: Router;
  /** Connector registration (POST/GET/DELETE /v1/connectors) and the departments' published keys. */
  connectorsRouter: Router;
  service: LookupService;
  directory: ConnectorDirectory;
  readiness: ReadinessCheck[];
  stop(): Promise<void>;
}

export async function startLookups(options: LookupsOptions): Promise<Lookups> {
  const { config, bus, catalog, registry, metricsRegistry } = options;
  const logger = options.logger.child({ component: 'lookups' });
  const topics = topicNames(config.topicPrefix);
  const registered = (await registry.listRegistrations()).map((registration) => registration.department);
  await ensureSharedTopics(bus, topics, registered, config.requestTopicRetentionMs);
  const withTopics = new Set(registered);
  const ensureRequestTopics = async (departments: string[]) => {
    const missing = departments.filter((department) => !withTopics.has(department));
    if (missing.length === 0) return;
    await ensureSharedTopics(bus, topics, missing, config.requestTopicRetentionMs);
    for (const department of missing) withTopics.add(department);
  };
  // A registration made elsewhere (another instance, the CLI without Kafka) gets its topic here too.
  const topicReconciler = setInterval(() => {
    registry
      .listRegistrations()
      .then((all) => ensureRequestTopics(all.map((registration) => registration.department)))
      .catch((error: unknown) =>
        logger.warn({ err: error }, 'request topics of new registrations not created yet; retrying'),
      );
  }, REQUEST_TOPIC_RECONCILE_MS);
  topicReconciler.unref();
  const signatures = createProviderSignatures(registry);

  const groupBase = topics.gatewayGroups(config.instanceId);
  const replyTopic = topics.lookupReplies(config.instanceId);
  // Replies matter only while their lookup waits; an hour is ample for debugging.
  await bus.ensureTopics([replyTopic], 1, { retentionMs: 60 * 60_000 });
  const replies = new ReplyRouter(bus, replyTopic, groupBase, logger);
  const directory = new ConnectorDirectory(
    bus,
    topics.heartbeats,
    `${groupBase}.heartbeats`,
    catalog,
    signatures,
    logger,
  );
  await Promise.all([replies.start(), directory.start()]);

  const duration = new Histogram({
    name: 'silobridge_lookup_duration_seconds',
    help: 'Lookups answered, by certificate type and outcome',
    labelNames: ['certificate_type', 'outcome'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metricsRegistry],
  });
  new Counter({
    name: 'silobridge_lookup_replies_dropped_total',
    help: 'Replies dropped: late (after the lookup timed out) or with an unknown correlation id',
    labelNames: ['reason'] as const,
    registers: [metricsRegistry],
    collect() {
      this.reset();
      this.inc({ reason: 'late' }, replies.stats.lateReplies);
      this.inc({ reason: 'unknown-correlation-id' }, replies.stats.unknownReplies);
    },
  });

  const service = new LookupService({
    catalog,
    bus,
    replies,
    directory,
    registrations: registry,
    signatures,
    topics,
    policy: options.policy,
    audit: options.audit,
    logger,
    timeoutMs: config.lookupTimeoutMs,
    subjectKey: options.subjectKey,
    observe: (certificateType, outcome, seconds) =>
      duration.observe({ certificate_type: certificateType, outcome }, seconds),
  });

  return {
    router: createLookupRouter({ service, authenticate: options.authenticate, sign: options.sign }),
    connectorsRouter: createConnectorRegistrationRouter({
      registrations: createConnectorRegistrations({
        registry,
        catalog,
        topics,
        topicPrefix: config.topicPrefix,
        requestTopicRetentionMs: config.requestTopicRetentionMs,
        ensureRequestTopic: (department) => ensureRequestTopics([department]),
      }),
      registry,
      instances: () => directory.list(),
      authenticate: options.authenticate,
    }),
    service,
    directory,
    readiness: [
      { name: 'replies', check: () => replies.checkReady() },
      { name: 'connectors', check: () => directory.checkWarmedUp() },
    ],
    async stop() {
      clearInterval(topicReconciler);
      await Promise.all([replies.stop(), directory.stop()]);
      // Lookups the reply router just failed still write their audit events: let them, before the
      // audit log closes.
      await service.drain();
    },
  };
}
