/**
 * Composition root: builds the gateway's parts from the config, starts them in order and stops them in
 * reverse order: storage (migrated), bus, audit log, registry and authentication, policies, lookups,
 * matters, change notices, statistics, sample connectors, then HTTP. Shutdown drains HTTP first and
 * closes the audit log just before the database, so every event that was being written is committed.
 */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Express, type RequestHandler, Router } from 'express';
import { startAudit } from './audit/audit.js';
import type { AuditRecorder } from './audit/audit-events.js';
import { createInProcessBus } from './bus/in-process-bus.js';
import { createKafkaBus } from './bus/kafka-bus.js';
import { createCatalogRouter } from './catalog/catalog-routes.js';
import { loadSchemaCatalog } from './catalog/schema-catalog.js';
import { startConsole } from './console/console.js';
import { demoBanner } from './demo/demo-banner.js';
import { startAllSampleConnectors } from './demo/run-sample-connector.js';
import { createSampleChangeRouter } from './demo/sample-change-routes.js';
import type { GatewayConfig } from './foundation/config.js';
import { createLogger, type Logger } from './foundation/logger.js';
import { migrationsDir, schemasDir } from './foundation/paths.js';
import { resolveGatewaySecrets, secretFiles } from './foundation/secrets.js';
import { createHealthRouter } from './health/health-routes.js';
import { createApp } from './http/app.js';
import { createDrain } from './http/drain.js';
import { createHttpServer } from './http/http-server.js';
import { createAuthenticator } from './identity/authenticator.js';
import { createRefusalAuditMiddleware } from './identity/refusal-audit.js';
import { startLookups } from './lookups/lookups.js';
import { startMatters } from './matters/matters.js';
import { createMetrics } from './metrics/metrics.js';
import { startNotices } from './notices/notices.js';
import { createOpenApiRouter } from './openapi/openapi-routes.js';
import { certificateFieldsOf } from './policy/certificate-fields.js';
import { createPolicyEngine } from './policy/policy-engine.js';
import { createPolicyRouter } from './policy/policy-routes.js';
import type { Bus } from './protocol/bus.js';
import { createSubjectKeyer } from './protocol/subject-key.js';
import { bootstrapDemo, bootstrapSampleConnectors } from './registry/demo-bootstrap.js';
import { createRegistry } from './registry/registry.js';
import { createRegistryRouter } from './registry/registry-routes.js';
import { createPublishedReviewRouter, createReviewRouter } from './review/review-routes.js';
import { createReviewService } from './review/review-service.js';
import { startSigning } from './signing/signing.js';
import { startStatistics } from './statistics/statistics.js';
import type { Database } from './storage/database.js';
import { migrate } from './storage/migrations.js';
import { openDatabase } from './storage/open-database.js';

export interface RunningGateway {
  readonly url: string;
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly database: Database;
  readonly bus: Bus;
  /** The Express application (tests walk its routes, e.g. against the OpenAPI document). */
  readonly app: Express;
  /** Drains in-flight requests (up to the configured grace), then closes bus and database. */
  close(): Promise<void>;
}

export interface GatewayDependencies {
  logger?: Logger;
  /** Use this bus instead of building one from the config (tests and benchmarks). */
  bus?: Bus;
  /** Print the demo's ready-to-paste lookup on stderr (the gateway process does; tests do not). */
  printBanner?: boolean;
  /**
   * Records lookups instead of the audit log. Only for the benchmark's "audit off" baseline
   * (test/bench/): no configuration reaches it, and a gateway without its audit log is not one.
   */
  lookupAuditForBenchmark?: AuditRecorder;
}

function createBus(config: GatewayConfig, logger: Logger): Bus {
  if (config.kafkaBrokers.length === 0)
    return createInProcessBus({ logger: logger.child({ component: 'bus' }) });
  return createKafkaBus({
    brokers: config.kafkaBrokers,
    clientId: `silobridge-gateway-${config.instanceId}`,
    logger: logger.child({ component: 'kafka' }),
    security: config.kafkaSecurity,
    commitIntervalMs: config.kafkaCommitIntervalMs,
  });
}

/** Authenticates every request under `prefix` once, then hands it to `routers` (whose paths are absolute). */
function withAuthentication(prefix: string, authenticate: RequestHandler, ...routers: Router[]): Router {
  return Router()
    .use(prefix, authenticate)
    .use(...routers);
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export async function startGateway(
  config: GatewayConfig,
  deps: GatewayDependencies = {},
): Promise<RunningGateway> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const stack: Array<{ name: string; stop: () => Promise<void> }> = [];
  const stopAll = async () => {
    for (const { name, stop } of stack.reverse()) {
      await stop().catch((error: unknown) => logger.error({ err: error }, `failed to stop ${name}`));
    }
  };

  try {
    const database = await openDatabase(config);
    stack.push({ name: 'database', stop: () => database.close() });
    const migrations = await migrate(database, migrationsDir);
    logger.info({ database: database.kind, applied: migrations.applied }, 'database ready');

    const bus = deps.bus ?? createBus(config, logger);
    // A bus handed in belongs to the caller, who closes it.
    if (!deps.bus) stack.push({ name: 'bus', stop: () => bus.close() });

    const catalog = await loadSchemaCatalog(schemasDir);
    const metrics = createMetrics();

    const secrets = await resolveGatewaySecrets(config);
    if (config.databaseUrl && !(config.auditHmacKey && config.signingKeySecret)) {
      // Fine for one instance; a second one with another data folder would hold other secrets.
      logger.warn(
        { secretsDir: path.dirname(secretFiles(config.dataDir).hmacKey) },
        'gateway secrets come from the data folder: give every instance on this database the same ' +
          'SILOBRIDGE_AUDIT_HMAC_KEY and SILOBRIDGE_SIGNING_KEY_SECRET instead',
      );
    }
    const signing = await startSigning({ database, secret: secrets.signingKeySecret });
    stack.push({ name: 'signing keys', stop: async () => signing.close() });
    // Accountability first: everything after it records into the audit log. Stopped after the
    // parts that write to it (the stack unwinds in reverse), before the database closes.
    const audit = await startAudit({
      config,
      database,
      hmacKey: secrets.hmacKey,
      signer: signing.keys,
      bus,
      logger: logger.child({ component: 'audit' }),
      registry: metrics.registry,
    });
    stack.push({ name: 'audit log', stop: () => audit.stop() });

    const registry = createRegistry({
      database,
      audit: audit.log,
      logger: logger.child({ component: 'registry' }),
      refreshIntervalMs: config.registryRefreshMs,
    });
    const authenticator = createAuthenticator({
      registry,
      audience: config.audience,
      maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
      clockToleranceSeconds: config.clockToleranceSeconds,
      cacheSize: config.tokenCacheSize,
      audit: audit.log,
      logger: logger.child({ component: 'authentication' }),
    });
    // Officers signed in to the console are authenticated from their session, everyone else by token.
    const officerConsole = await startConsole({
      database,
      registry,
      authenticator,
      audit: audit.log,
      logger: logger.child({ component: 'console' }),
    });
    stack.push({ name: 'console', stop: () => officerConsole.stop() });
    const authenticate = officerConsole.authenticateWith(authenticator.middleware);
    const policy = await createPolicyEngine({
      dir: config.policiesDir,
      certificateFields: certificateFieldsOf(catalog),
      logger: logger.child({ component: 'policy' }),
      audit: audit.log,
      database,
    });
    policy.watch({ files: config.policyWatch });
    stack.push({ name: 'policies', stop: () => policy.close() });
    const demo = config.demoIdentities
      ? await bootstrapDemo({ registry, dataDir: config.dataDir })
      : undefined;
    // Sample connectors sign like any department's: they need their identities even without the demo's.
    const sampleIdentities =
      demo ??
      (config.sampleConnectors
        ? await bootstrapSampleConnectors({ registry, dataDir: config.dataDir })
        : undefined);

    const lookups = await startLookups({
      config,
      bus,
      catalog,
      logger,
      registry,
      metricsRegistry: metrics.registry,
      policy,
      audit: deps.lookupAuditForBenchmark ?? audit.log,
      authenticate,
      // Each answer carries the newest signed checkpoint too: evidence its holder keeps (docs/audit.md).
      sign: async (result, requester) => ({
        signature: await signing.responses.signLookupResponse({ ...result, requester }),
        checkpoint: audit.latestCheckpoint(),
      }),
      subjectKey: createSubjectKeyer(secrets.hmacKey),
    });
    stack.push({ name: 'lookups', stop: () => lookups.stop() });
    const matters = await startMatters({
      config,
      catalog,
      policy,
      lookups: lookups.service,
      keys: signing.keys,
      authenticate,
      logger: logger.child({ component: 'matters' }),
    });

    // Change notices: departments' change events matched against subscriptions, delivered at least once.
    const notices = await startNotices({
      config,
      database,
      bus,
      catalog,
      registry,
      signatures: lookups.signatures,
      policy,
      audit: audit.log,
      hashSubject: audit.hashSubject,
      keys: signing.keys,
      authenticate,
      // Each part names itself (change-intake, notice-delivery): a second `component` would repeat the key.
      logger,
    });
    stack.push({ name: 'change notices', stop: () => notices.stop() });

    const statistics = await startStatistics({
      database,
      registry,
      instances: () => lookups.directory.list(),
      logger: logger.child({ component: 'statistics' }),
    });
    stack.push({ name: 'statistics', stop: () => statistics.stop() });

    const demoRouters: Router[] = [];
    if (config.sampleConnectors && sampleIdentities) {
      const connectors = await startAllSampleConnectors({
        bus,
        catalog,
        signerFor: sampleIdentities.signerFor,
        topicPrefix: config.topicPrefix,
        logger: logger.child({ component: 'sample-connectors' }),
      });
      stack.push({ name: 'sample connectors', stop: () => connectors.stop() });
      // The demo's revocations: a sample department changes a record and tells its subscribers.
      demoRouters.push(createSampleChangeRouter({ samples: connectors, catalog, authenticate }));
    }

    const reviews = createReviewService(database);
    const drain = createDrain();
    const app = createApp({
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      middleware: [drain.middleware, metrics.middleware],
      // Express tries each router in turn: the lookup routes, the hot path, come first.
      routers: [
        lookups.router,
        matters.router,
        createHealthRouter(
          [
            { name: 'database', check: () => database.check() },
            { name: 'bus', check: () => bus.check() },
            ...lookups.readiness,
          ],
          () => drain.draining,
        ),
        metrics.router,
        createOpenApiRouter({ catalog }),
        signing.jwksRouter,
        audit.publicRouter,
        officerConsole.router,
        statistics.publicRouter,
        createPublishedReviewRouter({ reviews }),
        createCatalogRouter(catalog),
        createRegistryRouter({ registry, authenticate }),
        lookups.connectorsRouter,
        createPolicyRouter({ engine: policy, authenticate }),
        withAuthentication(
          '/v1/audit',
          authenticate,
          audit.router,
          createReviewRouter({ reviews, audit: audit.log }),
        ),
        withAuthentication('/v1/statistics', authenticate, statistics.router),
        notices.router,
        ...demoRouters,
      ],
      // Every 401, 403 and 429 that no capability recorded itself goes into the audit log.
      errorMiddleware: [createRefusalAuditMiddleware(audit.log, logger)],
    });
    // Timeouts and connection limits: slow or greedy clients are cut (docs/operations.md).
    const httpServer = createHttpServer(app, config.http, logger.child({ component: 'http' }));
    const address = await listen(httpServer, config.port, config.host);
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    logger.info({ url, bus: bus.kind, instanceId: config.instanceId }, 'gateway listening');
    // Human hints go to stderr, so stdout stays one JSON log line per event.
    if (demo && deps.printBanner)
      process.stderr.write(
        demoBanner(url, demo, {
          database: database.kind,
          bus: bus.kind,
          sampleConnectors: config.sampleConnectors,
        }),
      );

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        // Event streams never finish on their own: end them so draining waits only for real work.
        notices.streams.closeAll();
        await drain.drain(httpServer, config.shutdownGraceMs, logger);
        await stopAll();
        logger.info('gateway stopped');
      })();
      return closing;
    };
    return { url, config, logger, database, bus, app, close };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
