/**
 * Routes anyone may call: health, metrics, the public keys, the certificate catalog, this document,
 * and the published aggregates (statistics summary, review summaries) that hold no personal data.
 */
import {
  type JsonObject,
  json,
  operation,
  pathParameter,
  queryParameter,
  ref,
} from './openapi-operations.js';

const object = (properties: JsonObject, required: string[] = []): JsonObject => ({
  type: 'object',
  ...(required.length > 0 ? { required } : {}),
  properties,
});
const string = { type: 'string' };

const reviewId = pathParameter('id', 'The review sample’s id (a UUID).', { type: 'string', format: 'uuid' });

const CATALOG_ENTRY = object(
  {
    certificateType: string,
    schemaVersions: { type: 'array', items: { type: 'integer' } },
    latestVersion: { type: 'integer' },
    provider: { type: 'string', description: 'Code of the department that holds the records.' },
    title: object({ en: string, zh: string }, ['en', 'zh']),
  },
  ['certificateType', 'schemaVersions', 'latestVersion', 'provider', 'title'],
);

export function publicPaths(): JsonObject {
  return {
    '/healthz': {
      get: operation({
        operationId: 'getHealth',
        summary: 'The process is up',
        tag: 'operations',
        access: 'public',
        responses: { 200: json('Up.', object({ status: { const: 'ok' } }, ['status'])) },
      }),
    },
    '/readyz': {
      get: operation({
        operationId: 'getReadiness',
        summary: 'The gateway can serve lookups',
        description:
          'Database, bus, reply consumer and connector directory ready, and not shutting down. Otherwise 503 ' +
          '`not-ready` whose `checks` names what is not.',
        tag: 'operations',
        access: 'public',
        responses: {
          200: json(
            'Ready.',
            object({ status: { const: 'ready' }, checks: { type: 'object', additionalProperties: string } }, [
              'status',
              'checks',
            ]),
          ),
        },
        problems: { 503: ['not-ready'] },
      }),
    },
    '/metrics': {
      get: operation({
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        description: 'Request and lookup latency, audit batches, dropped replies. Holds no personal data.',
        tag: 'operations',
        access: 'public',
        responses: {
          200: {
            description: 'Prometheus text exposition format.',
            content: { 'text/plain': { schema: string } },
          },
        },
      }),
    },
    '/openapi.json': {
      get: operation({
        operationId: 'getOpenApiDocument',
        summary: 'This OpenAPI document',
        tag: 'operations',
        access: 'public',
        responses: { 200: json('OpenAPI 3.1.', { type: 'object' }) },
      }),
    },
    '/.well-known/jwks.json': {
      get: operation({
        operationId: 'getGatewayKeys',
        summary: 'The gateway’s public signing keys',
        description: 'Active and retired: to verify signed lookup responses and audit checkpoints.',
        tag: 'keys',
        access: 'public',
        responses: { 200: json('A JWK set (RFC 7517).', ref('JsonWebKeySet')) },
      }),
    },
    '/.well-known/audit-checkpoints': {
      get: operation({
        operationId: 'getAuditCheckpointFeed',
        summary: 'The audit log’s signed checkpoints, to fetch and keep',
        description:
          'NDJSON, oldest first, one `{"type":"checkpoint","sequence":n,"at":"…","jws":"…"}` a line: the compact ' +
          'JWS (typ `silobridge-audit-checkpoint+jws`, keys at /.well-known/jwks.json) signs `{log, sequence, hash, at}`. ' +
          'Keep what you fetch and fetch again with `after` = the last sequence you hold; a copy taken before ' +
          'the log was truncated or rewritten proves it (`silobridge audit verify --against`, docs/audit.md). ' +
          'A full page carries a `Link: rel="next"` header.',
        tag: 'keys',
        access: 'public',
        parameters: [
          queryParameter('after', 'Only checkpoints after this sequence (default 0).', {
            type: 'integer',
            minimum: 0,
          }),
          queryParameter('limit', 'At most this many lines (default 1000).', {
            type: 'integer',
            minimum: 1,
            maximum: 10_000,
          }),
        ],
        responses: {
          200: {
            description: 'One checkpoint a line.',
            headers: { Link: { description: 'The next page, when this one is full.', schema: string } },
            content: { 'application/x-ndjson': { schema: string } },
          },
        },
        problems: { 400: ['invalid-request'] },
      }),
    },
    '/.well-known/department-jwks.json': {
      get: operation({
        operationId: 'getDepartmentKeys',
        summary: 'The departments’ connector keys',
        description:
          'ES256 keys; `kid` is `<system>#<key>`, with `department` and `status`. Retired keys stay listed, ' +
          'so a department signature made before still verifies offline.',
        tag: 'keys',
        access: 'public',
        responses: { 200: json('A JWK set (RFC 7517).', ref('JsonWebKeySet')) },
      }),
    },
    '/v1/catalog': {
      get: operation({
        operationId: 'listCertificateTypes',
        summary: 'Certificate types',
        tag: 'catalog',
        access: 'public',
        responses: {
          200: json(
            'Versions, provider department, titles.',
            object({ certificateTypes: { type: 'array', items: CATALOG_ENTRY } }, ['certificateTypes']),
          ),
        },
      }),
    },
    '/v1/catalog/{type}': {
      get: operation({
        operationId: 'getCertificateSchema',
        summary: 'The JSON Schema of a certificate type',
        description: 'Self-contained: the identifier definitions are embedded.',
        tag: 'catalog',
        access: 'public',
        parameters: [
          pathParameter('type', 'The certificate type, e.g. `resident-id-card`.', string),
          queryParameter('version', 'A schema version (default the latest).', {
            type: 'integer',
            minimum: 1,
          }),
        ],
        responses: {
          200: {
            description: 'A JSON Schema (2020-12): `$defs.subject` and `$defs.record`.',
            content: { 'application/schema+json': { schema: { type: 'object' } } },
          },
        },
        problems: { 400: ['invalid-request'], 404: ['unknown-certificate-type'] },
      }),
    },
    '/v1/public/reviews': {
      get: operation({
        operationId: 'listPublishedReviews',
        summary: 'Published review summaries',
        tag: 'public',
        access: 'public',
        responses: {
          200: json(
            'The latest publication of each published sample, newest first.',
            object({ reviews: { type: 'array', items: ref('PublishedReviewEntry') } }, ['reviews']),
          ),
        },
      }),
    },
    '/v1/public/reviews/{id}': {
      get: operation({
        operationId: 'getPublishedReview',
        summary: 'One published review summary',
        description: 'The sample’s summary as published: without reviewer names and notes.',
        tag: 'public',
        access: 'public',
        parameters: [reviewId],
        responses: { 200: json('The published summary.', ref('PublishedReview')) },
        problems: { 400: ['invalid-request'], 404: ['review-sample-not-found'] },
      }),
    },
  };
}
