/**
 * Turns a loaded connector configuration into certificate handlers: the PostgreSQL table adapter and
 * the HTTP adapter as they exist, given the configured mapping. The PostgreSQL pools belong to the
 * handlers; close() ends them when the connector has stopped.
 */
import { createHttpHandler, fillTemplate } from '../adapters/http-adapter.js';
import { createPostgresTableHandler, type PostgresTableHandler } from '../adapters/postgres-table-adapter.js';
import {
  type CertificateHandler,
  type CertificateRecord,
  LookupFailure,
} from '../runtime/certificate-handler.js';
import type { ConnectorConfig, HttpSource } from './connector-config.js';
import { valueAt } from './json-pointer.js';
import { templateFor } from './path-templates.js';

export interface ConfiguredHandlers {
  /** Certificate type -> its handler, for createConnector's `handlers`. */
  handlers: Record<string, CertificateHandler>;
  /** Ends the database pools; call after the connector has stopped. */
  close(): Promise<void>;
}

export function createConfiguredHandlers(
  config: Pick<ConnectorConfig, 'certificateTypes'>,
): ConfiguredHandlers {
  const handlers: Record<string, CertificateHandler> = {};
  const pools: PostgresTableHandler[] = [];
  const close = async () => {
    await Promise.all(pools.map((handler) => handler.close()));
  };
  try {
    for (const [type, source] of Object.entries(config.certificateTypes)) {
      if (source.kind === 'postgres') {
        const handler = createPostgresTableHandler({
          ...source.postgres,
          schemaVersion: source.schemaVersion,
        });
        pools.push(handler);
        handlers[type] = handler;
      } else {
        handlers[type] = createConfiguredHttpHandler(source.http, source.schemaVersion);
      }
    }
  } catch (error) {
    void close();
    throw error;
  }
  return { handlers, close };
}

function createConfiguredHttpHandler(http: HttpSource, schemaVersion: number): CertificateHandler {
  return createHttpHandler({
    baseUrl: http.baseUrl,
    schemaVersion,
    timeoutMs: http.timeoutMs,
    headers: http.headers,
    path: (request) => {
      const template = templateFor(http.paths, request.subject);
      if (template === undefined) {
        throw new LookupFailure(
          'adapter-failed',
          'The subject names no identifier this connector can search by.',
        );
      }
      return fillTemplate(template, request.subject);
    },
    mapResponse: (body) => mapResponse(body, http.response),
  });
}

/** The record at `response.record` (missing or null: not found), its fields picked by pointer. */
export function mapResponse(body: unknown, response: HttpSource['response']): CertificateRecord | undefined {
  const found = valueAt(body, response.record);
  if (found === undefined || found === null) return undefined;
  if (typeof found !== 'object' || Array.isArray(found)) {
    // Not the value: it may hold personal data, and this message reaches the logs.
    throw new Error(`the API's answer at "${response.record}" is not a JSON object`);
  }
  if (!response.fields) return found as CertificateRecord;
  const record: CertificateRecord = {};
  for (const [field, pointer] of Object.entries(response.fields)) {
    const value = valueAt(found, pointer);
    if (value !== undefined && value !== null) record[field] = value;
  }
  return record;
}
