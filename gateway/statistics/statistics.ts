/**
 * Sharing statistics for data officers and the public (docs/statistics.md): lookups per requester,
 * provider and certificate type over time, a department scorecard, and an anonymous summary. Starts
 * the two background jobs: folding the audit log into the hourly roll-up every few seconds, and
 * sampling connector availability once a minute.
 */
import type { Router } from 'express';
import type { Logger } from '../foundation/logger.js';
import type { AnnouncedInstance } from '../registry/connector-registrations.js';
import type { Registry } from '../registry/registry.js';
import type { Database } from '../storage/database.js';
import { AVAILABILITY_SAMPLE_INTERVAL_MS, sampleAvailability } from './connector-availability.js';
import { DEFAULT_ROLLUP_CHUNK, rollUp } from './statistics-rollup.js';
import { createPublicStatisticsRouter, createStatisticsRouter } from './statistics-routes.js';
import { createStatisticsService } from './statistics-service.js';

export const ROLLUP_INTERVAL_MS = 5_000;

export interface StatisticsOptions {
  database: Database;
  logger: Logger;
  /** The registry: which departments have a registered connector (registrations), systems. */
  registry: Registry;
  /** Every connector instance heard from, with its liveness (the connector directory). */
  instances(): AnnouncedInstance[];
  /** How often the roll-up catches up with the log (default ROLLUP_INTERVAL_MS). */
  rollupIntervalMs?: number;
  /** How often connector availability is sampled (default once a minute). */
  availabilityIntervalMs?: number;
}

export interface Statistics {
  /** /v1/statistics/** (role `audit`): mount after authentication. */
  router: Router;
  /** /v1/public/**: anonymous, no personal data. */
  publicRouter: Router;
  stop(): Promise<void>;
}

/** Runs `job` every `intervalMs` after the previous run ended, until stopped; a failure is logged. */
function every(intervalMs: number, job: () => Promise<unknown>, logger: Logger, what: string) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = job()
        .then(
          () => {},
          (error: unknown) => logger.warn({ err: error }, `${what} failed; trying again later`),
        )
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

export async function startStatistics(options: StatisticsOptions): Promise<Statistics> {
  const { database, logger } = options;
  const service = createStatisticsService(database);
  let stopping = false;
  const stopRollup = every(
    options.rollupIntervalMs ?? ROLLUP_INTERVAL_MS,
    () => rollUp(database, DEFAULT_ROLLUP_CHUNK, () => !stopping),
    logger,
    'the statistics roll-up',
  );
  // The first sample waits a full interval: a gateway that has just started is still hearing heartbeats.
  const stopSampling = every(
    options.availabilityIntervalMs ?? AVAILABILITY_SAMPLE_INTERVAL_MS,
    () => sampleAvailability(options),
    logger,
    'sampling connector availability',
  );
  return {
    router: createStatisticsRouter(service),
    publicRouter: createPublicStatisticsRouter(service),
    async stop() {
      stopping = true;
      await Promise.all([stopRollup(), stopSampling()]);
    },
  };
}
