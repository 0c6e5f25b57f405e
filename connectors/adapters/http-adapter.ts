/**
 * Answers lookups from a department's existing REST API: one GET per lookup, built from the subject.
 * 404 means the department holds no such record; any other non-2xx status is a failure.
 */
import type { LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';
import type { CertificateHandler, CertificateRecord } from '../runtime/certificate-handler.js';

export type HeaderSource =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

export interface HttpHandlerOptions {
  /** The API's root, e.g. `https://registry.mr.example.gov.cn/api/`. */
  baseUrl: string;
  /**
   * The resource path (and query) for a lookup, relative to `baseUrl`. A string is a template whose
   * `{name}` placeholders are filled, URL-encoded, from the subject's identifiers.
   */
  path: string | ((request: LookupRequestEnvelope) => string);
  schemaVersion: number;
  /** Sent with every call (API keys, tokens); a function is called per request, e.g. to refresh a token. */
  headers?: HeaderSource;
  /** Gives up on the API after this long even if the lookup's deadline is further away. */
  timeoutMs?: number;
  /** Turns the API's JSON body into the certificate record; `undefined` means not found. */
  mapResponse?: (body: unknown, request: LookupRequestEnvelope) => CertificateRecord | undefined;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export function createHttpHandler(options: HttpHandlerOptions): CertificateHandler {
  const base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new Error(`HTTP adapter baseUrl must be http(s), got ${base.protocol}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const mapResponse = options.mapResponse ?? defaultMapResponse;

  return {
    schemaVersion: options.schemaVersion,
    async lookup(request, signal) {
      const path =
        typeof options.path === 'function'
          ? options.path(request)
          : fillTemplate(options.path, request.subject);
      // A relative path keeps every call under baseUrl (its own path prefix included).
      const url = new URL(path.replace(/^\/+/, ''), base);
      const extraHeaders = typeof options.headers === 'function' ? await options.headers() : options.headers;
      const response = await fetch(url, {
        method: 'GET',
        headers: { accept: 'application/json', ...extraHeaders, 'x-silobridge-lookup-id': request.lookupId },
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        redirect: 'error',
      });
      if (response.status === 404) {
        await response.body?.cancel();
        return undefined;
      }
      if (!response.ok) {
        await response.body?.cancel();
        // Not the path: it holds the subject's identifier, and this message reaches the logs.
        throw new Error(`the department's API answered HTTP ${response.status}`);
      }
      return mapResponse(await response.json(), request);
    },
  };
}

/** Fills `{name}` placeholders from the subject; a placeholder the subject lacks is a configuration error. */
export function fillTemplate(template: string, subject: Record<string, unknown>): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9]*)\}/g, (_, name: string) => {
    const value = subject[name];
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new Error(`the subject has no '${name}' identifier for the path template`);
    }
    const segment = String(value);
    // encodeURIComponent leaves '.' alone, and URL resolution would climb out of baseUrl on '..'.
    if (segment === '.' || segment === '..') throw new Error(`the subject's '${name}' is not an identifier`);
    return encodeURIComponent(segment);
  });
}

function defaultMapResponse(body: unknown): CertificateRecord {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Error('the API did not answer with a JSON object');
  }
  return body as CertificateRecord;
}
