/**
 * Answers lookups from a table (or view) in the department's own PostgreSQL database, mapping its
 * columns to the certificate schema's fields. Subject values only ever travel as query parameters.
 */
import pg from 'pg';
import {
  type CertificateHandler,
  type CertificateRecord,
  LookupFailure,
} from '../runtime/certificate-handler.js';
import { quoteColumn, quoteTable } from './sql-identifiers.js';

export interface PostgresTableHandlerOptions {
  /** A pool the caller owns (and closes); or `connectionString`, and the handler owns its pool. */
  pool?: pg.Pool;
  connectionString?: string;
  /** Connections in the pool the handler creates (pg's `max`). Default 10; ignored with `pool`. */
  poolSize?: number;
  /**
   * The server cancels a query running longer than this (PostgreSQL's `statement_timeout`, set on each
   * connection of the pool the handler creates). Default: the server's setting; ignored with `pool`.
   */
  statementTimeoutMs?: number;
  /** Gives up connecting to the server after this long (pg's `connectionTimeoutMillis`); ignored with `pool`. */
  connectTimeoutMs?: number;
  /** `table` or `schema.table`; a view works too. */
  table: string;
  schemaVersion: number;
  /**
   * Subject identifier -> the column(s) holding it. Several columns are alternatives (a marriage
   * certificate is found by either spouse's ID number). A row matches when any identifier the
   * request gives equals any of its columns.
   */
  subjectColumns: Record<string, string | readonly string[]>;
  /** Record field -> column. Columns that are NULL are left out of the record. */
  recordColumns: Record<string, string>;
  /**
   * Fields always returned, even when the request asks for fewer: the schema's required fields, so a
   * projected record still validates.
   */
  requiredFields?: readonly string[];
  /** When several rows match (a re-issued certificate), take the first in this order instead of failing. */
  orderBy?: { column: string; direction?: 'asc' | 'desc' };
  /** Columns selected for `transform` only, e.g. to build a nested field from several columns. */
  extraColumns?: readonly string[];
  /**
   * Last touch on the record, e.g. to translate the department's codes into the schema's or to build
   * nested fields; `row` holds the selected columns (NULLs included) and the extra columns.
   */
  transform?: (record: CertificateRecord, row: Record<string, unknown>) => CertificateRecord;
}

export interface PostgresTableHandler extends CertificateHandler {
  /** Ends the pool if the handler created it; a pool passed in is left to its owner. */
  close(): Promise<void>;
}

const DATE_OID = 1082;

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * `numeric` and `bigint` columns arrive from pg as text (it keeps their precision), but certificate
 * schemas want JSON numbers (areas, registered capital): a number when it survives the conversion,
 * at most 15 significant digits, else the text (which the schema check then refuses, saying so).
 */
function exactNumber(text: string): number | string {
  const value = Number(text);
  const digits = text.replace(/^[-+]/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Number.isFinite(value) && (Number.isSafeInteger(value) || digits.length <= 15) ? value : text;
}

// pg turns `date` columns into JS Dates at local midnight, which shifts the day in some time zones:
// keep the server's YYYY-MM-DD text instead.
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === DATE_OID) return (value: string) => value;
    if (oid === NUMERIC_OID || oid === INT8_OID) return exactNumber;
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export function createPostgresTableHandler(options: PostgresTableHandlerOptions): PostgresTableHandler {
  const table = quoteTable(options.table);
  const subjectColumns = new Map(
    Object.entries(options.subjectColumns).map(([identifier, columns]) => {
      const list = typeof columns === 'string' ? [columns] : [...columns];
      if (list.length === 0) throw new Error(`subjectColumns.${identifier} names no column`);
      return [identifier, list.map((column) => quoteColumn(column, `subjectColumns.${identifier}`))];
    }),
  );
  if (subjectColumns.size === 0) throw new Error('subjectColumns must map at least one subject identifier');
  const recordColumns = Object.entries(options.recordColumns).map(([field, column]) => ({
    field,
    column,
    quoted: quoteColumn(column, `recordColumns.${field}`),
  }));
  if (recordColumns.length === 0) throw new Error('recordColumns must map at least one record field');
  const extraColumns = (options.extraColumns ?? []).map((column, index) =>
    quoteColumn(column, `extraColumns[${index}]`),
  );
  const required = new Set(options.requiredFields ?? []);
  for (const field of required) {
    if (!recordColumns.some((mapped) => mapped.field === field)) {
      throw new Error(`required field '${field}' has no column in recordColumns`);
    }
  }
  const order = options.orderBy
    ? ` ORDER BY ${quoteColumn(options.orderBy.column, 'orderBy.column')} ${options.orderBy.direction === 'asc' ? 'ASC' : 'DESC'}`
    : '';
  if (!options.pool && !options.connectionString) throw new Error('give either pool or connectionString');
  const ownPool = options.pool
    ? undefined
    : new pg.Pool({
        connectionString: options.connectionString,
        max: options.poolSize ?? 10,
        ...(options.statementTimeoutMs === undefined
          ? {}
          : { statement_timeout: options.statementTimeoutMs }),
        ...(options.connectTimeoutMs === undefined
          ? {}
          : { connectionTimeoutMillis: options.connectTimeoutMs }),
      });
  // Without a listener, an idle connection dropped by the server would crash the process; the next
  // query reports the failure instead.
  ownPool?.on('error', () => {});
  const pool = options.pool ?? (ownPool as pg.Pool);

  return {
    schemaVersion: options.schemaVersion,

    async lookup(request, signal) {
      const values: unknown[] = [];
      const conditions: string[] = [];
      for (const [identifier, value] of Object.entries(request.subject)) {
        const columns = subjectColumns.get(identifier);
        if (!columns || (typeof value !== 'string' && typeof value !== 'number')) continue;
        values.push(value);
        for (const column of columns) conditions.push(`${column} = $${values.length}`);
      }
      if (conditions.length === 0) {
        throw new LookupFailure(
          'adapter-failed',
          'The subject names no identifier this connector can search by.',
        );
      }
      const wanted = request.fields ? new Set([...request.fields, ...required]) : undefined;
      const selected = recordColumns.filter((mapped) => !wanted || wanted.has(mapped.field));
      const columns = [...new Set([...selected.map((mapped) => mapped.quoted), ...extraColumns])];
      // Without an order, fetch two rows so an ambiguous subject is noticed rather than answered at random.
      const limit = order ? 1 : 2;
      const text = `SELECT ${columns.join(', ')} FROM ${table} WHERE ${conditions.join(' OR ')}${order} LIMIT ${limit}`;

      signal.throwIfAborted();
      const result = await abortable(pool.query<Record<string, unknown>>({ text, values, types }), signal);
      if (result.rows.length > 1) {
        throw new LookupFailure('ambiguous-subject', 'More than one record matches the subject.');
      }
      const row = result.rows[0];
      if (!row) return undefined;
      const record: CertificateRecord = {};
      for (const { field, column } of selected) {
        const value = row[column];
        if (value === null || value === undefined) continue;
        record[field] = value instanceof Date ? value.toISOString() : value;
      }
      return options.transform ? options.transform(record, row) : record;
    },

    async close() {
      await ownPool?.end();
    },
  };
}

/** Stops waiting at the deadline; the query itself is bounded by the server's statement_timeout. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
