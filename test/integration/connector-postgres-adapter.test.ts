import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresTableHandler } from '../../connectors/adapters/postgres-table-adapter.js';
import { LookupFailure } from '../../connectors/runtime/certificate-handler.js';
import type { LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

function request(subject: Record<string, unknown>, fields?: string[]): LookupRequestEnvelope {
  return {
    version: 1,
    lookupId: '5a0c7d52-1111-4a5b-9c3d-000000000001',
    certificateType: 'business-licence',
    schemaVersion: 1,
    subject,
    ...(fields ? { fields } : {}),
    purpose: { matter: 'MR-0101', caseRef: 'case-1', officer: 'officer-1' },
    requester: { department: 'civil-affairs' },
    deadline: new Date(Date.now() + 5000).toISOString(),
  } as LookupRequestEnvelope;
}

const signal = () => new AbortController().signal;

describe('PostgreSQL table adapter (real PostgreSQL)', () => {
  let database: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 4 });
    // The department's own tables, in its own naming: the adapter maps them to the schema's fields.
    await pool.query(`
      CREATE SCHEMA registry;
      CREATE TABLE registry.enterprise (
        credit_code text PRIMARY KEY,
        ent_name text NOT NULL,
        legal_rep text NOT NULL,
        est_date date NOT NULL,
        reg_capital numeric,
        dissolved_at timestamptz
      );
      INSERT INTO registry.enterprise VALUES
        ('91350100M000100Y43', '福州闽江茶业有限公司', '林志远', '2016-03-14', 5000000, NULL),
        ('91350200MA2Y0K8X1R', '厦门鹭岛食品有限公司', '陈晓梅', '2019-12-31', NULL, '2024-06-30T08:00:00Z');
      CREATE TABLE marriage_registration (
        cert_no text PRIMARY KEY,
        husband_id text NOT NULL,
        wife_id text NOT NULL,
        registered_on date NOT NULL
      );
      INSERT INTO marriage_registration VALUES
        ('J350102-2015-000123', '350102198501011234', '350102198702022345', '2015-05-20'),
        ('J350102-2023-000456', '350102198501011234', '350104199003033456', '2023-10-01');
    `);
  });

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  const licences = () =>
    createPostgresTableHandler({
      pool,
      table: 'registry.enterprise',
      schemaVersion: 1,
      subjectColumns: { unifiedSocialCreditCode: 'credit_code' },
      recordColumns: {
        unifiedSocialCreditCode: 'credit_code',
        name: 'ent_name',
        legalRepresentative: 'legal_rep',
        establishedOn: 'est_date',
        registeredCapital: 'reg_capital',
        dissolvedAt: 'dissolved_at',
      },
      requiredFields: ['unifiedSocialCreditCode', 'name'],
    });

  const marriages = (orderBy?: { column: string }) =>
    createPostgresTableHandler({
      pool,
      table: 'marriage_registration',
      schemaVersion: 1,
      subjectColumns: { certificateNumber: 'cert_no', idNumber: ['husband_id', 'wife_id'] },
      recordColumns: { certificateNumber: 'cert_no', registeredOn: 'registered_on' },
      orderBy,
    });

  it('finds a row by one key, dates as YYYY-MM-DD, numeric as numbers, NULL columns left out', async () => {
    expect(
      await licences().lookup(request({ unifiedSocialCreditCode: '91350100M000100Y43' }), signal()),
    ).toEqual({
      unifiedSocialCreditCode: '91350100M000100Y43',
      name: '福州闽江茶业有限公司',
      legalRepresentative: '林志远',
      establishedOn: '2016-03-14',
      // A numeric column, as the schemas want it: a JSON number.
      registeredCapital: 5000000,
    });
    const dissolved = await licences().lookup(
      request({ unifiedSocialCreditCode: '91350200MA2Y0K8X1R' }),
      signal(),
    );
    expect(dissolved).toMatchObject({ establishedOn: '2019-12-31', dissolvedAt: '2024-06-30T08:00:00.000Z' });
    expect(dissolved).not.toHaveProperty('registeredCapital');
  });

  it('answers not found when no row matches', async () => {
    expect(
      await licences().lookup(request({ unifiedSocialCreditCode: '91110000000000000X' }), signal()),
    ).toBeUndefined();
  });

  it('finds a row by any of the alternative columns of an identifier', async () => {
    const handler = marriages();
    expect(await handler.lookup(request({ idNumber: '350102198702022345' }), signal())).toEqual({
      certificateNumber: 'J350102-2015-000123',
      registeredOn: '2015-05-20',
    });
    expect(await handler.lookup(request({ idNumber: '350104199003033456' }), signal())).toMatchObject({
      certificateNumber: 'J350102-2023-000456',
    });
    expect(
      await handler.lookup(
        request({ certificateNumber: 'J350102-2023-000456', idNumber: 'unknown' }),
        signal(),
      ),
    ).toMatchObject({ registeredOn: '2023-10-01' });
  });

  it('refuses to pick one of several matching rows at random, unless told how to order them', async () => {
    const error = await marriages()
      .lookup(request({ idNumber: '350102198501011234' }), signal())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LookupFailure);
    expect((error as LookupFailure).code).toBe('ambiguous-subject');
    expect(
      await marriages({ column: 'registered_on' }).lookup(
        request({ idNumber: '350102198501011234' }),
        signal(),
      ),
    ).toMatchObject({ certificateNumber: 'J350102-2023-000456' });
  });

  it('projects the requested fields plus the required ones', async () => {
    const record = await licences().lookup(
      request({ unifiedSocialCreditCode: '91350100M000100Y43' }, ['legalRepresentative', 'notAField']),
      signal(),
    );
    expect(record).toEqual({
      unifiedSocialCreditCode: '91350100M000100Y43',
      name: '福州闽江茶业有限公司',
      legalRepresentative: '林志远',
    });
  });

  it('builds nested fields in transform from extra columns, also under projection', async () => {
    const handler = createPostgresTableHandler({
      pool,
      table: 'marriage_registration',
      schemaVersion: 1,
      subjectColumns: { certificateNumber: 'cert_no' },
      recordColumns: { certificateNumber: 'cert_no', registeredOn: 'registered_on' },
      requiredFields: ['certificateNumber'],
      extraColumns: ['husband_id', 'wife_id'],
      transform: (record, row) => ({
        ...record,
        spouses: [{ residentIdNumber: row.husband_id }, { residentIdNumber: row.wife_id }],
      }),
    });
    expect(await handler.lookup(request({ certificateNumber: 'J350102-2015-000123' }, []), signal())).toEqual(
      {
        certificateNumber: 'J350102-2015-000123',
        spouses: [{ residentIdNumber: '350102198501011234' }, { residentIdNumber: '350102198702022345' }],
      },
    );
    expect(() =>
      createPostgresTableHandler({
        pool,
        table: 'marriage_registration',
        schemaVersion: 1,
        subjectColumns: { certificateNumber: 'cert_no' },
        recordColumns: { certificateNumber: 'cert_no' },
        extraColumns: ['Husband_ID'],
      }),
    ).toThrow(/extraColumns\[0\]: invalid column name/);
  });

  it('treats SQL in subject values as plain data', async () => {
    const handler = licences();
    for (const value of [
      "' OR '1'='1",
      "91350100M000100Y43' --",
      "x'; DROP TABLE registry.enterprise; --",
      '$1',
    ]) {
      expect(await handler.lookup(request({ unifiedSocialCreditCode: value }), signal())).toBeUndefined();
    }
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM registry.enterprise');
    expect(rows[0].n).toBe(2);
  });

  it('ignores subject properties it has no column for, and fails when none is left', async () => {
    const handler = licences();
    expect(
      await handler.lookup(
        request({ unifiedSocialCreditCode: '91350100M000100Y43', 'credit_code = credit_code OR 1': 1 }),
        signal(),
      ),
    ).toMatchObject({ name: '福州闽江茶业有限公司' });
    await expect(
      handler.lookup(request({ registrationNumber: '350100100012345' }), signal()),
    ).rejects.toBeInstanceOf(LookupFailure);
  });

  it('does not query after the lookup signal has aborted', async () => {
    const aborted = new AbortController();
    aborted.abort(new Error('lookup deadline passed'));
    await expect(
      licences().lookup(request({ unifiedSocialCreditCode: '91350100M000100Y43' }), aborted.signal),
    ).rejects.toThrow(/deadline/);
  });

  it('rejects table and column names that are not plain identifiers, at creation', () => {
    const valid = {
      pool,
      table: 'registry.enterprise',
      schemaVersion: 1,
      subjectColumns: { unifiedSocialCreditCode: 'credit_code' } as Record<string, string | string[]>,
      recordColumns: { name: 'ent_name' } as Record<string, string>,
    };
    for (const table of [
      'enterprise; DROP TABLE x',
      'Registry.Enterprise',
      'a.b.c',
      '"enterprise"',
      '1table',
      '',
    ]) {
      expect(() => createPostgresTableHandler({ ...valid, table })).toThrow(
        /^table: invalid (table|schema) name/,
      );
    }
    expect(() =>
      createPostgresTableHandler({ ...valid, recordColumns: { name: 'ent_name" , password --' } }),
    ).toThrow(/recordColumns.name: invalid column name/);
    expect(() =>
      createPostgresTableHandler({
        ...valid,
        subjectColumns: { unifiedSocialCreditCode: ['credit_code', 'Code'] },
      }),
    ).toThrow(/subjectColumns.unifiedSocialCreditCode: invalid column name/);
    expect(() => createPostgresTableHandler({ ...valid, subjectColumns: { x: [] } })).toThrow(
      /names no column/,
    );
    expect(() => createPostgresTableHandler({ ...valid, requiredFields: ['legalRepresentative'] })).toThrow(
      /required field/,
    );
    expect(() => createPostgresTableHandler({ ...valid, orderBy: { column: 'est_date desc' } })).toThrow(
      /orderBy.column: invalid column name/,
    );
    expect(() => createPostgresTableHandler({ ...valid, pool: undefined })).toThrow(
      /pool or connectionString/,
    );
  });

  it('owns and closes a pool made from a connection string', async () => {
    const handler = createPostgresTableHandler({
      connectionString: database.url,
      table: 'marriage_registration',
      schemaVersion: 1,
      subjectColumns: { certificateNumber: 'cert_no' },
      recordColumns: { certificateNumber: 'cert_no' },
    });
    expect(await handler.lookup(request({ certificateNumber: 'J350102-2015-000123' }), signal())).toEqual({
      certificateNumber: 'J350102-2015-000123',
    });
    await handler.close();
    await expect(
      handler.lookup(request({ certificateNumber: 'J350102-2015-000123' }), signal()),
    ).rejects.toThrow();
  });
});
