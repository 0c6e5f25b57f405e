/**
 * SQL for the registry (migrations 001 and 020): departments, systems and their public keys. Plain
 * parameterised statements on a `Queryable`, so the service can run several in one transaction; the
 * same SQL runs on PostgreSQL and PGlite.
 */
import type { Role } from '../access/caller.js';
import type { PublicJwk, SigningAlgorithm } from '../identity/system-keys.js';
import type { Queryable } from '../storage/database.js';

export interface Department {
  code: string;
  nameEn: string;
  nameZh: string;
  createdAt: string;
}

export interface RegisteredSystem {
  id: string;
  department: string;
  name: string;
  roles: Role[];
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface StoredKey {
  systemId: string;
  kid: string;
  alg: SigningAlgorithm;
  status: 'active' | 'retired';
  thumbprint: string;
  createdAt: string;
  createdBy: string;
  retiredAt?: string;
  retiredBy?: string;
  jwk: PublicJwk;
}

const iso = (value: unknown): string =>
  (value instanceof Date ? value : new Date(String(value))).toISOString();

interface DepartmentRow {
  code: string;
  name_en: string;
  name_zh: string;
  created_at: Date;
}
const toDepartment = (row: DepartmentRow): Department => ({
  code: row.code,
  nameEn: row.name_en,
  nameZh: row.name_zh,
  createdAt: iso(row.created_at),
});

interface SystemRow {
  id: string;
  department: string;
  name: string;
  roles: Role[];
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}
const toSystem = (row: SystemRow): RegisteredSystem => ({
  id: row.id,
  department: row.department,
  name: row.name,
  roles: [...row.roles],
  enabled: row.enabled,
  createdAt: iso(row.created_at),
  updatedAt: iso(row.updated_at),
});

interface KeyRow {
  system_id: string;
  kid: string;
  alg: SigningAlgorithm;
  public_jwk: PublicJwk | string;
  thumbprint: string;
  created_at: Date;
  created_by: string;
  retired_at: Date | null;
  retired_by: string | null;
}
const toKey = (row: KeyRow): StoredKey => ({
  systemId: row.system_id,
  kid: row.kid,
  alg: row.alg,
  status: row.retired_at === null ? 'active' : 'retired',
  thumbprint: row.thumbprint,
  createdAt: iso(row.created_at),
  createdBy: row.created_by,
  ...(row.retired_at !== null ? { retiredAt: iso(row.retired_at), retiredBy: row.retired_by ?? '' } : {}),
  jwk: typeof row.public_jwk === 'string' ? (JSON.parse(row.public_jwk) as PublicJwk) : row.public_jwk,
});

const SYSTEM_COLUMNS = 'id, department, name, roles, enabled, created_at, updated_at';
const KEY_COLUMNS =
  'system_id, kid, alg, public_jwk, thumbprint, created_at, created_by, retired_at, retired_by';

export async function listDepartments(db: Queryable): Promise<Department[]> {
  const { rows } = await db.query<DepartmentRow>(
    'SELECT code, name_en, name_zh, created_at FROM departments ORDER BY code',
  );
  return rows.map(toDepartment);
}

export async function getDepartment(db: Queryable, code: string): Promise<Department | undefined> {
  const { rows } = await db.query<DepartmentRow>(
    'SELECT code, name_en, name_zh, created_at FROM departments WHERE code = $1',
    [code],
  );
  return rows[0] && toDepartment(rows[0]);
}

/** Inserts the department unless one with that code exists; returns it only if it was inserted. */
export async function insertDepartment(
  db: Queryable,
  department: Omit<Department, 'createdAt'>,
): Promise<Department | undefined> {
  const { rows } = await db.query<DepartmentRow>(
    `INSERT INTO departments (code, name_en, name_zh) VALUES ($1, $2, $3)
     ON CONFLICT (code) DO NOTHING RETURNING code, name_en, name_zh, created_at`,
    [department.code, department.nameEn, department.nameZh],
  );
  return rows[0] && toDepartment(rows[0]);
}

export async function listSystems(db: Queryable, department?: string): Promise<RegisteredSystem[]> {
  const { rows } = department
    ? await db.query<SystemRow>(`SELECT ${SYSTEM_COLUMNS} FROM systems WHERE department = $1 ORDER BY id`, [
        department,
      ])
    : await db.query<SystemRow>(`SELECT ${SYSTEM_COLUMNS} FROM systems ORDER BY id`);
  return rows.map(toSystem);
}

export async function getSystem(
  db: Queryable,
  id: string,
  forUpdate = false,
): Promise<RegisteredSystem | undefined> {
  const { rows } = await db.query<SystemRow>(
    `SELECT ${SYSTEM_COLUMNS} FROM systems WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0] && toSystem(rows[0]);
}

export async function insertSystem(
  db: Queryable,
  system: Pick<RegisteredSystem, 'id' | 'department' | 'name' | 'roles'>,
): Promise<RegisteredSystem> {
  const { rows } = await db.query<SystemRow>(
    `INSERT INTO systems (id, department, name, roles) VALUES ($1, $2, $3, $4::text[]) RETURNING ${SYSTEM_COLUMNS}`,
    [system.id, system.department, system.name, system.roles],
  );
  return toSystem(rows[0] as SystemRow);
}

export async function updateSystem(
  db: Queryable,
  id: string,
  patch: Partial<Pick<RegisteredSystem, 'name' | 'roles' | 'enabled'>>,
): Promise<RegisteredSystem> {
  const { rows } = await db.query<SystemRow>(
    `UPDATE systems SET name = COALESCE($2, name), roles = COALESCE($3::text[], roles),
       enabled = COALESCE($4, enabled), updated_at = now()
     WHERE id = $1 RETURNING ${SYSTEM_COLUMNS}`,
    [id, patch.name ?? null, patch.roles ?? null, patch.enabled ?? null],
  );
  return toSystem(rows[0] as SystemRow);
}

/** Enabled systems holding the admin role, locked so two changes cannot remove the last one together. */
export async function lockEnabledAdmins(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM systems WHERE enabled AND 'admin' = ANY (roles) ORDER BY id FOR UPDATE",
  );
  return rows.map((row) => row.id);
}

export async function listKeys(db: Queryable, systemId?: string): Promise<StoredKey[]> {
  const { rows } = systemId
    ? await db.query<KeyRow>(
        `SELECT ${KEY_COLUMNS} FROM system_keys WHERE system_id = $1 ORDER BY created_at, kid`,
        [systemId],
      )
    : await db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM system_keys ORDER BY system_id, created_at, kid`);
  return rows.map(toKey);
}

export async function findKeyByThumbprint(db: Queryable, thumbprint: string): Promise<StoredKey | undefined> {
  const { rows } = await db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM system_keys WHERE thumbprint = $1`, [
    thumbprint,
  ]);
  return rows[0] && toKey(rows[0]);
}

export async function insertKey(
  db: Queryable,
  key: Pick<StoredKey, 'systemId' | 'kid' | 'alg' | 'thumbprint' | 'createdBy' | 'jwk'>,
): Promise<StoredKey> {
  const { rows } = await db.query<KeyRow>(
    `INSERT INTO system_keys (system_id, kid, alg, public_jwk, thumbprint, created_by)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING ${KEY_COLUMNS}`,
    [key.systemId, key.kid, key.alg, JSON.stringify(key.jwk), key.thumbprint, key.createdBy],
  );
  return toKey(rows[0] as KeyRow);
}

export async function retireKey(
  db: Queryable,
  systemId: string,
  kid: string,
  retiredBy: string,
): Promise<StoredKey> {
  const { rows } = await db.query<KeyRow>(
    `UPDATE system_keys SET retired_at = now(), retired_by = $3
     WHERE system_id = $1 AND kid = $2 AND retired_at IS NULL RETURNING ${KEY_COLUMNS}`,
    [systemId, kid, retiredBy],
  );
  return toKey(rows[0] as KeyRow);
}

/** Bumped by triggers on every registry change (migration 020). */
export async function registryRevision(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ revision: string }>(
    'SELECT revision::text AS revision FROM registry_revision',
  );
  return rows[0]?.revision ?? '0';
}
