/**
 * Wires the lookup capability: the reply router on this instance's reply topic, the connector
 * directory on the heartbeat topic, connector registration, the service and its routes, and the
 * readiness checks they add.
 */
import type { RequestHandler, Router } from 'express';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { LookupPolicy } from '../access/lookup-terms.js';
import type { AuditRecorder } from '../audit/audit-events.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import type { GatewayConfig } from '../foundation/config.js';
import type { Logger } from '../foundation/logger.js';
import type { ReadinessCheck } from '../health/health-routes.js';
import { DENIAL_REASONS } from '../policy/policy-decision.js';
import type { Bus } from '../protocol/bus.js';
import type { SubjectKeyer } from '../protocol/subject-key.js';
import { ensureSharedTopics, topicNames } from '../protocol/topics.js';
import { createConnectorRegistrationRouter } from '../registry/connector-registration-routes.js';
import { createConnectorRegistrations } from '../registry/connector-registrations.js';
import type { Registry } from '../registry/registry.js';
import { ConnectorDirectory } from './connector-directory.js';
import { createLookupMetrics } from './lookup-metrics.js';
import { createLookupRouter, type LookupSigner } from './lookup-routes.js';
import { LookupService } from './lookup-service.js';
import { createProviderSignatures, type ProviderSignatures } from './provider-signatures.js';
import { ReplyRouter } from './reply-router.js';

/**
 * How often a gateway looks for registrations whose request topic it has not made yet, and re-reads
 * the registered departments its metrics may name.
 */
const REQUEST_TOPIC_RECONCILE_MS = 30_000;

export interface LookupsOptions {
  config: Pick<
    GatewayConfig,
    'topicPrefix' | 'instanceId' | 'lookupTimeoutMs' | 'maxInFlightPerDepartment' | 'requestTopicRetentionMs'
  >;
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
  /** Checks what departments sign (replies, heartbeats, change events) against their registered keys. */
  signatures: ProviderSignatures;
  readiness: ReadinessCheck[];
  stop(): Promise<void>;
}

export async function startLookups(options: LookupsOptions): Promise<Lookups> {
  const { config, bus, catalog, registry, metricsRegistry } = options;
  const logger = options.logger.child({ component: 'lookups' });
  const topics = topicNames(config.topicPrefix);
  const [registrations, knownDepartments] = await Promise.all([
    registry.listRegistrations(),
    registry.listDepartments(),
  ]);
  const registered = registrations.map((registration) => registration.department);
  await ensureSharedTopics(bus, topics, registered, config.requestTopicRetentionMs);
  const withTopics = new Set(registered);
  const ensureRequestTopics = async (departments: string[]) => {
    const missing = departments.filter((department) => !withTopics.has(department));
    if (missing.length === 0) return;
    await ensureSharedTopics(bus, topics, missing, config.requestTopicRetentionMs);
    for (const department of missing) withTopics.add(department);
  };
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

  const metrics = createLookupMetrics({
    registry: metricsRegistry,
    catalog,
    denialReasons: DENIAL_REASONS,
    liveConnectors: () => directory.liveCounts(),
    replyStats: () => replies.stats,
  });
  metrics.setDepartments(
    knownDepartments.map((department) => department.code),
    registered,
  );
  // A registration made elsewhere (another instance, the CLI without Kafka) gets its topic here too,
  // and a department registered since is named in the metrics (until then it counts as `other`).
  const reconcile = async () => {
    const [all, known] = await Promise.all([registry.listRegistrations(), registry.listDepartments()]);
    const withConnector = all.map((registration) => registration.department);
    metrics.setDepartments(
      known.map((department) => department.code),
      withConnector,
    );
    await ensureRequestTopics(withConnector);
  };
  const topicReconciler = setInterval(() => {
    reconcile().catch((error: unknown) =>
      logger.warn({ err: error }, 'request topics of new registrations not created yet; retrying'),
    );
  }, REQUEST_TOPIC_RECONCILE_MS);
  topicReconciler.unref();

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
    maxInFlightPerProvider: config.maxInFlightPerDepartment,
    subjectKey: options.subjectKey,
    observe: (lookup) => metrics.observe(lookup),
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
    signatures,
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
