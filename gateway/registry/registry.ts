/**
 * The registry of departments, systems and keys: every change is checked, applied in one transaction,
 * recorded in the audit log (`registry-change`), and visible to authentication on the next request.
 * `actor` is who made the change: a system id, or e.g. `cli:<user>` for the operator's command line.
 */

import { departmentOf, type Role } from '../access/caller.js';
import type { AuditRecorder, ChangeAuditEvent } from '../audit/audit-events.js';
import { BadRequestError, NotFoundError } from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';
import type { CredentialSource } from '../identity/credentials.js';
import { type ParsedPublicKey, parsePublicJwk } from '../identity/system-keys.js';
import type { Database, Queryable } from '../storage/database.js';
import type { ConnectorRegistration } from './connector-registration-store.js';
import * as registrations from './connector-registration-store.js';
import { ConflictError, isUniqueViolation } from './registry-errors.js';
import type { Department, RegisteredSystem, StoredKey } from './registry-store.js';
import * as store from './registry-store.js';
import { createRegistryView } from './registry-view.js';

export type { ConnectorRegistration } from './connector-registration-store.js';
export type { Department, RegisteredSystem, StoredKey } from './registry-store.js';

export interface SystemWithKeys extends RegisteredSystem {
  keys: StoredKey[];
}

export interface NewKey {
  jwk: unknown;
  alg?: string;
}

export interface NewSystem {
  id: string;
  name: string;
  roles: Role[];
  keys?: NewKey[];
}

export interface SystemChanges {
  name?: string;
  roles?: Role[];
  enabled?: boolean;
}

export interface RetireOptions {
  /** Self-service may not retire a system's last active key (it would lock itself out); admins may. */
  allowLastKey?: boolean;
}

export interface Registry extends CredentialSource {
  listDepartments(): Promise<Department[]>;
  getDepartment(code: string): Promise<Department | undefined>;
  createDepartment(actor: string, department: Omit<Department, 'createdAt'>): Promise<Department>;
  /** Creates the department unless it exists (bootstrap); `created` says which. */
  ensureDepartment(actor: string, department: Omit<Department, 'createdAt'>): Promise<{ created: boolean }>;
  listSystems(department?: string): Promise<SystemWithKeys[]>;
  getSystem(id: string): Promise<SystemWithKeys | undefined>;
  createSystem(actor: string, system: NewSystem): Promise<SystemWithKeys>;
  updateSystem(actor: string, id: string, changes: SystemChanges): Promise<SystemWithKeys>;
  addKey(actor: string, systemId: string, key: NewKey): Promise<StoredKey>;
  retireKey(actor: string, systemId: string, kid: string, options?: RetireOptions): Promise<StoredKey>;
  /** How many enabled systems hold the admin role (`silobridge init` creates the first). */
  countAdmins(): Promise<number>;
  /** The department's connector registration as every lookup sees it (cached like credentials). */
  registrationOf(department: string): Promise<ConnectorRegistration | undefined>;
  listRegistrations(): Promise<ConnectorRegistration[]>;
  /** Records a registration as given (gateway/registry/connector-registrations.ts checks it first). */
  insertRegistration(
    actor: string,
    registration: Omit<ConnectorRegistration, 'createdAt' | 'createdBy'>,
  ): Promise<ConnectorRegistration>;
  deleteRegistration(actor: string, department: string): Promise<ConnectorRegistration>;
}

export interface RegistryOptions {
  database: Database;
  audit: AuditRecorder;
  logger?: Logger;
  /** How stale the in-memory view may get before re-reading the revision; 0 = every request. Default 1000. */
  refreshIntervalMs?: number;
}

const systemNotFound = (id: string) =>
  new NotFoundError(`No system '${id}' is registered.`, 'system-not-found');

export function createRegistry(options: RegistryOptions): Registry {
  const { database, audit } = options;
  const view = createRegistryView({
    database,
    refreshIntervalMs: options.refreshIntervalMs ?? 1000,
    ...(options.logger ? { logger: options.logger } : {}),
  });

  /** Applies a change in one transaction, then records it; any failure leaves the registry as it was. */
  async function change<T>(
    work: (tx: Queryable) => Promise<{ result: T; events: Array<Omit<ChangeAuditEvent, 'kind' | 'at'>> }>,
  ): Promise<T> {
    let outcome: Awaited<ReturnType<typeof work>>;
    try {
      outcome = await database.transaction(work);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConflictError(
          'Another change to the same registry entry was made at the same time; retry.',
          'registry-conflict',
        );
      }
      throw error;
    } finally {
      view.invalidate();
    }
    const at = new Date().toISOString();
    for (const event of outcome.events) await audit.record({ kind: 'registry-change', at, ...event });
    return outcome.result;
  }

  async function withKeys(db: Queryable, system: RegisteredSystem): Promise<SystemWithKeys> {
    return { ...system, keys: await store.listKeys(db, system.id) };
  }

  async function insertParsedKey(tx: Queryable, actor: string, systemId: string, parsed: ParsedPublicKey) {
    const existing = await store.findKeyByThumbprint(tx, parsed.thumbprint);
    if (existing) {
      throw new ConflictError(
        existing.systemId === systemId
          ? `This key is already registered for '${systemId}' as '${existing.kid}'${existing.status === 'retired' ? ' and was retired: a retired key never comes back' : ''}.`
          : 'This key is already registered for another system: every system needs its own key pair.',
        'key-already-registered',
      );
    }
    const keys = await store.listKeys(tx, systemId);
    if (keys.some((key) => key.kid === parsed.kid)) {
      throw new ConflictError(
        `System '${systemId}' already has a key '${parsed.kid}'; choose another kid.`,
        'key-exists',
      );
    }
    const key = await store.insertKey(tx, {
      systemId,
      kid: parsed.kid,
      alg: parsed.alg,
      thumbprint: parsed.thumbprint,
      createdBy: actor,
      jwk: parsed.jwk,
    });
    return {
      key,
      event: {
        actor,
        action: 'key.added',
        target: `${systemId}#${key.kid}`,
        details: { systemId, kid: key.kid, alg: key.alg, thumbprint: key.thumbprint },
      },
    };
  }

  return {
    credentialsOf: (systemId) => view.credentialsOf(systemId),

    listDepartments: () => store.listDepartments(database),
    getDepartment: (code) => store.getDepartment(database, code),

    createDepartment: (actor, department) =>
      change(async (tx) => {
        const created = await store.insertDepartment(tx, department);
        if (!created)
          throw new ConflictError(`Department '${department.code}' already exists.`, 'department-exists');
        return {
          result: created,
          events: [{ actor, action: 'department.created', target: created.code, details: { ...department } }],
        };
      }),

    ensureDepartment: (actor, department) =>
      change(async (tx) => {
        const created = await store.insertDepartment(tx, department);
        return {
          result: { created: created !== undefined },
          events: created
            ? [{ actor, action: 'department.created', target: created.code, details: { ...department } }]
            : [],
        };
      }),

    async listSystems(department) {
      const [systems, keys] = await Promise.all([
        store.listSystems(database, department),
        store.listKeys(database),
      ]);
      return systems.map((system) => ({ ...system, keys: keys.filter((key) => key.systemId === system.id) }));
    },

    async getSystem(id) {
      const system = await store.getSystem(database, id);
      return system && withKeys(database, system);
    },

    async createSystem(actor, system) {
      const department = departmentOf(system.id);
      // Parse (and reject) keys before touching the database.
      const parsed: ParsedPublicKey[] = [];
      for (const key of system.keys ?? []) parsed.push(await parsePublicJwk(key.jwk, key.alg));
      return change(async (tx) => {
        if (!(await store.getDepartment(tx, department))) {
          throw new BadRequestError(
            `Department '${department}' is not registered; create it first (POST /v1/departments).`,
            [{ pointer: '/id', reason: `unknown department '${department}'` }],
            'unknown-department',
          );
        }
        if (await store.getSystem(tx, system.id)) {
          throw new ConflictError(`System '${system.id}' already exists.`, 'system-exists');
        }
        const created = await store.insertSystem(tx, {
          id: system.id,
          department,
          name: system.name,
          roles: system.roles,
        });
        const events: Array<Omit<ChangeAuditEvent, 'kind' | 'at'>> = [
          {
            actor,
            action: 'system.created',
            target: created.id,
            details: { name: created.name, roles: created.roles },
          },
        ];
        for (const key of parsed) events.push((await insertParsedKey(tx, actor, created.id, key)).event);
        return { result: await withKeys(tx, created), events };
      });
    },

    updateSystem: (actor, id, changes) =>
      change(async (tx) => {
        const admins = await store.lockEnabledAdmins(tx);
        const before = await store.getSystem(tx, id, true);
        if (!before) throw systemNotFound(id);
        const after = { roles: changes.roles ?? before.roles, enabled: changes.enabled ?? before.enabled };
        const staysAdmin = after.enabled && after.roles.includes('admin');
        if (admins.includes(id) && !staysAdmin && admins.length === 1) {
          throw new ConflictError(
            `System '${id}' is the last enabled admin; register another admin first.`,
            'last-admin',
          );
        }
        const updated = await store.updateSystem(tx, id, changes);
        const diff: Record<string, { from: unknown; to: unknown }> = {};
        for (const field of ['name', 'roles', 'enabled'] as const) {
          if (
            changes[field] !== undefined &&
            JSON.stringify(before[field]) !== JSON.stringify(updated[field])
          ) {
            diff[field] = { from: before[field], to: updated[field] };
          }
        }
        return {
          result: await withKeys(tx, updated),
          events:
            Object.keys(diff).length > 0
              ? [{ actor, action: 'system.updated', target: id, details: diff }]
              : [],
        };
      }),

    async addKey(actor, systemId, key) {
      const parsed = await parsePublicJwk(key.jwk, key.alg);
      return change(async (tx) => {
        if (!(await store.getSystem(tx, systemId, true))) throw systemNotFound(systemId);
        const { key: added, event } = await insertParsedKey(tx, actor, systemId, parsed);
        return { result: added, events: [event] };
      });
    },

    retireKey: (actor, systemId, kid, retire = {}) =>
      change(async (tx) => {
        // Locking the system row serialises retirements of its keys (the last-key rule).
        if (!(await store.getSystem(tx, systemId, true))) throw systemNotFound(systemId);
        const keys = await store.listKeys(tx, systemId);
        const key = keys.find((candidate) => candidate.kid === kid);
        if (!key) throw new NotFoundError(`System '${systemId}' has no key '${kid}'.`, 'key-not-found');
        if (key.status === 'retired') {
          throw new ConflictError(
            `Key '${kid}' of '${systemId}' was already retired at ${key.retiredAt}.`,
            'key-already-retired',
          );
        }
        const active = keys.filter((candidate) => candidate.status === 'active');
        if (active.length === 1 && !retire.allowLastKey) {
          throw new ConflictError(
            `Key '${kid}' is the last active key of '${systemId}': add its replacement first, then retire it.`,
            'last-active-key',
          );
        }
        const retired = await store.retireKey(tx, systemId, kid, actor);
        return {
          result: retired,
          events: [
            {
              actor,
              action: 'key.retired',
              target: `${systemId}#${kid}`,
              details: { systemId, kid, thumbprint: retired.thumbprint, activeKeysLeft: active.length - 1 },
            },
          ],
        };
      }),

    registrationOf: (department) => view.registrationOf(department),
    listRegistrations: () => registrations.listRegistrations(database),

    insertRegistration: (actor, registration) =>
      change(async (tx) => {
        if (!(await store.getDepartment(tx, registration.department))) {
          throw new BadRequestError(
            `Department '${registration.department}' is not registered; create it first (POST /v1/departments).`,
            [{ pointer: '/department', reason: `unknown department '${registration.department}'` }],
            'unknown-department',
          );
        }
        const existing = (await registrations.listRegistrations(tx)).find(
          (candidate) => candidate.department === registration.department,
        );
        if (existing) {
          throw new ConflictError(
            `Department '${registration.department}' already has a registered connector (since ${existing.createdAt}); remove it first (DELETE /v1/connectors/${registration.department}) to change what it serves.`,
            'connector-already-registered',
          );
        }
        const created = await registrations.insertRegistration(tx, { ...registration, createdBy: actor });
        return {
          result: created,
          events: [
            {
              actor,
              action: 'connector.registered',
              target: created.department,
              details: { certificateTypes: created.certificateTypes },
            },
          ],
        };
      }),

    deleteRegistration: (actor, department) =>
      change(async (tx) => {
        const removed = await registrations.deleteRegistration(tx, department);
        if (!removed) {
          throw new NotFoundError(
            `Department '${department}' has no registered connector.`,
            'connector-registration-not-found',
          );
        }
        return {
          result: removed,
          events: [
            {
              actor,
              action: 'connector.removed',
              target: department,
              details: { certificateTypes: removed.certificateTypes },
            },
          ],
        };
      }),

    async countAdmins() {
      return (await store.listSystems(database)).filter(
        (system) => system.enabled && system.roles.includes('admin'),
      ).length;
    },
  };
}
