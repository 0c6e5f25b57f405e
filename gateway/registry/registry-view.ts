/**
 * The registry as authentication and lookups see it: every system with its roles and verification
 * keys, and every connector registration, held in memory so a request costs no query. It stays current two ways: a change made through this process
 * calls `invalidate()` (effective on the next request), and any other change (another gateway
 * instance, the CLI, plain SQL) bumps `registry_revision`, which is re-read at most every
 * `refreshIntervalMs` (0 = on every request) before the view is trusted again.
 */
import type { KeyObject } from 'node:crypto';
import { ServiceUnavailableError } from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';
import type { CredentialSource, RegisteredKey, SystemCredentials } from '../identity/credentials.js';
import { publicKeyObject } from '../identity/system-keys.js';
import type { Database } from '../storage/database.js';
import { type ConnectorRegistration, listRegistrations } from './connector-registration-store.js';
import { listKeys, listSystems, registryRevision } from './registry-store.js';

export interface RegistryView extends CredentialSource {
  /** The department's connector registration, if it has one. */
  registrationOf(department: string): Promise<ConnectorRegistration | undefined>;
  /** Makes the next request re-check the registry (after a change made through this process). */
  invalidate(): void;
}

interface Snapshot {
  revision: string;
  systems: Map<string, SystemCredentials>;
  registrations: Map<string, ConnectorRegistration>;
  /** Parsed verification keys by thumbprint, reused across reloads (parsing costs more than the query). */
  keyObjects: Map<string, KeyObject>;
}

export interface RegistryViewOptions {
  database: Database;
  refreshIntervalMs: number;
  logger?: Logger;
}

async function loadSnapshot(
  database: Database,
  previous: Snapshot | undefined,
  logger?: Logger,
): Promise<Snapshot> {
  const { revision, systems, keys, registrations } = await database.transaction(async (tx) => {
    // One consistent picture of systems, keys and registrations, whatever commits meanwhile.
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    return {
      revision: await registryRevision(tx),
      systems: await listSystems(tx),
      keys: await listKeys(tx),
      registrations: await listRegistrations(tx),
    };
  });
  const keyObjects = new Map<string, KeyObject>();
  const bySystem = new Map<string, Map<string, RegisteredKey>>();
  for (const key of keys) {
    let publicKey = previous?.keyObjects.get(key.thumbprint);
    if (!publicKey) {
      try {
        publicKey = await publicKeyObject(key.jwk);
      } catch (error) {
        // Registration checks keys; one that still cannot be used must not take every other system down.
        logger?.error(
          { err: error, systemId: key.systemId, kid: key.kid },
          'unusable key in the registry skipped',
        );
        continue;
      }
    }
    keyObjects.set(key.thumbprint, publicKey);
    const systemKeys = bySystem.get(key.systemId) ?? new Map<string, RegisteredKey>();
    systemKeys.set(key.kid, { kid: key.kid, alg: key.alg, publicKey, retired: key.status === 'retired' });
    bySystem.set(key.systemId, systemKeys);
  }
  const credentials = new Map<string, SystemCredentials>();
  for (const system of systems) {
    credentials.set(system.id, {
      systemId: system.id,
      department: system.department,
      roles: system.roles,
      enabled: system.enabled,
      keys: bySystem.get(system.id) ?? new Map(),
    });
  }
  return {
    revision,
    systems: credentials,
    registrations: new Map(registrations.map((registration) => [registration.department, registration])),
    keyObjects,
  };
}

export function createRegistryView(options: RegistryViewOptions): RegistryView {
  const { database, refreshIntervalMs } = options;
  let state: { snapshot: Snapshot; checkStartedAt: number; generation: number } | undefined;
  let generation = 0;
  let inflight: Promise<void> | undefined;

  async function check(): Promise<void> {
    const checkStartedAt = performance.now();
    const checkGeneration = generation;
    const previous = state?.snapshot;
    const revision = await registryRevision(database);
    const snapshot =
      previous?.revision === revision ? previous : await loadSnapshot(database, previous, options.logger);
    state = { snapshot, checkStartedAt, generation: checkGeneration };
  }

  async function current(): Promise<Snapshot> {
    const arrivedAt = performance.now();
    const wanted = generation;
    for (;;) {
      // Fresh enough: checked after this request's deadline for staleness, and after the last local change.
      if (state && state.generation >= wanted && state.checkStartedAt >= arrivedAt - refreshIntervalMs) {
        return state.snapshot;
      }
      inflight ??= check().finally(() => {
        inflight = undefined;
      });
      try {
        await inflight;
      } catch (error) {
        options.logger?.error({ err: error }, 'cannot read the registry');
        throw new ServiceUnavailableError(
          'The registry of systems cannot be read; authentication is unavailable.',
          'registry-unavailable',
        );
      }
    }
  }

  return {
    async credentialsOf(systemId: string) {
      return (await current()).systems.get(systemId);
    },
    async registrationOf(department: string) {
      return (await current()).registrations.get(department);
    },
    invalidate() {
      generation += 1;
    },
  };
}
