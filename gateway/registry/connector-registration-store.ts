/**
 * SQL for connector registrations (migration 030): which certificate types each department's connector
 * answers. Plain parameterised statements on a `Queryable`, as in registry-store.ts.
 */
import type { ServedCertificateType } from '../protocol/envelopes.js';
import type { Queryable } from '../storage/database.js';

export interface ConnectorRegistration {
  /** The department code: one registration per department. */
  department: string;
  certificateTypes: ServedCertificateType[];
  createdAt: string;
  createdBy: string;
}

interface RegistrationRow {
  department: string;
  certificate_types: ServedCertificateType[] | string;
  created_at: Date | string;
  created_by: string;
}

const toRegistration = (row: RegistrationRow): ConnectorRegistration => ({
  department: row.department,
  certificateTypes:
    typeof row.certificate_types === 'string'
      ? (JSON.parse(row.certificate_types) as ServedCertificateType[])
      : row.certificate_types,
  createdAt: (row.created_at instanceof Date ? row.created_at : new Date(row.created_at)).toISOString(),
  createdBy: row.created_by,
});

const COLUMNS = 'department, certificate_types, created_at, created_by';

export async function listRegistrations(db: Queryable): Promise<ConnectorRegistration[]> {
  const { rows } = await db.query<RegistrationRow>(
    `SELECT ${COLUMNS} FROM connector_registrations ORDER BY department`,
  );
  return rows.map(toRegistration);
}

export async function insertRegistration(
  db: Queryable,
  registration: Omit<ConnectorRegistration, 'createdAt'>,
): Promise<ConnectorRegistration> {
  const { rows } = await db.query<RegistrationRow>(
    `INSERT INTO connector_registrations (department, certificate_types, created_by)
     VALUES ($1, $2::jsonb, $3) RETURNING ${COLUMNS}`,
    [registration.department, JSON.stringify(registration.certificateTypes), registration.createdBy],
  );
  return toRegistration(rows[0] as RegistrationRow);
}

export async function deleteRegistration(
  db: Queryable,
  department: string,
): Promise<ConnectorRegistration | undefined> {
  const { rows } = await db.query<RegistrationRow>(
    `DELETE FROM connector_registrations WHERE department = $1 RETURNING ${COLUMNS}`,
    [department],
  );
  return rows[0] ? toRegistration(rows[0]) : undefined;
}
