/**
 * Samples connector availability once a minute: per department with a registered connector, how
 * many of its connector instances this gateway instance sees live (heartbeats). Every gateway
 * instance samples; they write the same minute and the larger count wins. A department is available
 * in a minute when it had at least one live instance; availability is the share of observed minutes.
 */
import type { Logger } from '../foundation/logger.js';
import type { AnnouncedInstance } from '../registry/connector-registrations.js';
import type { Registry } from '../registry/registry.js';
import type { Database } from '../storage/database.js';
import { recordConnectorMinute } from './statistics-store.js';

export const AVAILABILITY_SAMPLE_INTERVAL_MS = 60_000;

/** Live instances per registered department (0 for a department none of whose instances is live). */
export function liveInstancesByDepartment(
  departments: readonly string[],
  instances: readonly AnnouncedInstance[],
): Map<string, number> {
  const live = new Map(departments.map((department) => [department, 0]));
  for (const instance of instances) {
    const count = live.get(instance.department);
    if (instance.live && count !== undefined) live.set(instance.department, count + 1);
  }
  return live;
}

export interface AvailabilitySamplerOptions {
  database: Database;
  registry: Pick<Registry, 'listRegistrations'>;
  instances(): AnnouncedInstance[];
  logger: Logger;
}

/** Records the current minute once. */
export async function sampleAvailability(
  options: AvailabilitySamplerOptions,
  at = Date.now(),
): Promise<void> {
  const registrations = await options.registry.listRegistrations();
  const minute = new Date(Math.floor(at / 60_000) * 60_000).toISOString();
  await recordConnectorMinute(
    options.database,
    minute,
    liveInstancesByDepartment(
      registrations.map((registration) => registration.department),
      options.instances(),
    ),
  );
}
