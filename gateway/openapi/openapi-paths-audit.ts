/**
 * The data officers' API (role `audit`): the audit log. Its inputs are read by
 * InputReader (gateway/http/input-reader.ts), not by a schema, so they are described here, once for
 * both places a filter can come from: the query string (lists comma-separated) and a JSON body (lists
 * as arrays or comma-separated), with the same patterns, enums and limits the readers check.
 */
import { DEFAULT_PAGE_SIZE, EVENT_KINDS, EVENT_OUTCOMES, MAX_PAGE_SIZE } from '../audit/audit-query.js';
import { MATTER, REQUESTER } from '../http/input-reader.js';
import { certificateType, departmentCode } from './openapi-components.js';
import {
  type JsonObject,
  json,
  operation,
  pathParameter,
  queryParameter,
  ref,
} from './openapi-operations.js';

const AUDIT = { roles: ['audit'] } as const;
const dateTime = { type: 'string', format: 'date-time' };
const string = { type: 'string' };

/** A list parameter: an array in a body, or comma-separated values (the only form in a query). */
export function listOf(values: readonly string[], inQuery: boolean): JsonObject {
  const comma = { type: 'string', description: `Comma-separated: ${values.join(', ')}.` };
  return inQuery ? comma : { oneOf: [{ type: 'array', items: { enum: [...values] }, minItems: 1 }, comma] };
}

interface Field {
  description: string;
  schema: (inQuery: boolean) => JsonObject;
}

const plain = (description: string, schema: JsonObject): Field => ({ description, schema: () => schema });

/** The filters every search shares (gateway/audit/audit-query.ts `readFilters`) and the page (`readPage`). */
const FILTERS: Record<string, Field> = {
  kind: { description: 'Event kinds.', schema: (inQuery) => listOf(EVENT_KINDS, inQuery) },
  requester: plain('A department code or `<department>/<system>`.', {
    type: 'string',
    pattern: REQUESTER.source,
  }),
  provider: plain('The provider department.', departmentCode),
  certificateType: plain('A certificate type.', certificateType),
  type: plain('Short for `certificateType` (not both, unless equal).', certificateType),
  outcome: {
    description:
      'Lookup outcomes, and the steps of a change notice (released, delivered, retrying, dead-lettered, denied).',
    schema: (inQuery) => listOf(EVENT_OUTCOMES, inQuery),
  },
  matter: plain('A matter code.', { type: 'string', pattern: MATTER.source }),
  lookupId: plain('One lookup’s events.', { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' }),
  from: plain('Inclusive; RFC 3339 with a time zone.', dateTime),
  to: plain('Exclusive; later than `from`.', dateTime),
};
const PAGE: Record<string, Field> = {
  limit: plain(`Page size (default ${DEFAULT_PAGE_SIZE}).`, {
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
  }),
  order: plain('`desc` (newest first, the default) or `asc`.', { enum: ['asc', 'desc'] }),
  cursor: plain('`nextCursor` of the previous page.', { type: 'string', pattern: '^[A-Za-z0-9_-]{1,200}$' }),
};
const SUBJECT = plain('The subject’s identifiers, as in a lookup (1 to 10).', {
  type: 'object',
  minProperties: 1,
  maxProperties: 10,
});

const asQuery = (fields: Record<string, Field>) =>
  Object.entries(fields).map(([name, field]) => queryParameter(name, field.description, field.schema(true)));

function asBody(fields: Record<string, Field>, required: string[] = []): JsonObject {
  return {
    type: 'object',
    additionalProperties: false,
    ...(required.length > 0 ? { required } : {}),
    properties: Object.fromEntries(
      Object.entries(fields).map(([name, field]) => [
        name,
        { ...field.schema(false), description: field.description },
      ]),
    ),
  };
}

const QUERY_PROBLEMS = { 400: ['invalid-request'] };

export function auditPaths(): JsonObject {
  return {
    '/v1/audit/events': {
      get: operation({
        operationId: 'searchAuditEvents',
        summary: 'Search the audit log',
        tag: 'audit',
        access: AUDIT,
        parameters: [...asQuery(FILTERS), ...asQuery(PAGE)],
        responses: { 200: json('A page of events.', ref('EventPage')) },
        problems: QUERY_PROBLEMS,
      }),
    },
    '/v1/audit/events/search': {
      post: operation({
        operationId: 'searchAuditEventsBySubject',
        audited: true,
        summary: 'Search the audit log, by subject too',
        description: 'The same search with the subject’s identifiers in the body, never in a URL; audited.',
        tag: 'audit',
        access: AUDIT,
        body: asBody({ ...FILTERS, ...PAGE, subject: SUBJECT }),
        responses: { 200: json('A page of events.', ref('EventPage')) },
        problems: QUERY_PROBLEMS,
      }),
    },
    '/v1/audit/events/{sequence}': {
      get: operation({
        operationId: 'getAuditEvent',
        summary: 'One audit event',
        tag: 'audit',
        access: AUDIT,
        parameters: [pathParameter('sequence', 'Its sequence number.', { type: 'integer', minimum: 1 })],
        responses: { 200: json('The event with its chain hashes.', ref('AuditEvent')) },
        problems: { 400: ['invalid-request'], 404: ['audit-event-not-found'] },
      }),
    },
    '/v1/audit/verify': {
      get: operation({
        operationId: 'verifyAuditLog',
        summary: 'Verify the hash chain and its signed checkpoints',
        tag: 'audit',
        access: AUDIT,
        responses: { 200: json('The verification report (docs/audit.md).', { type: 'object' }) },
      }),
    },
    '/v1/audit/checkpoints': {
      get: operation({
        operationId: 'listAuditCheckpoints',
        summary: 'Signed checkpoints',
        tag: 'audit',
        access: AUDIT,
        parameters: [
          queryParameter('after', 'Only checkpoints after this sequence.', { type: 'integer', minimum: 0 }),
        ],
        responses: {
          200: json('Checkpoints in sequence order.', {
            type: 'object',
            required: ['checkpoints'],
            properties: { checkpoints: { type: 'array', items: { type: 'object' } } },
          }),
        },
        problems: QUERY_PROBLEMS,
      }),
    },
    '/v1/audit/export': {
      get: operation({
        operationId: 'exportAuditLog',
        summary: 'Export the whole log',
        description:
          'NDJSON: a header line, the gateway’s keys, every checkpoint, every event, from one snapshot; ' +
          '`silobridge audit verify` checks it offline.',
        tag: 'audit',
        access: AUDIT,
        responses: {
          200: {
            description: 'One JSON object a line (attachment).',
            headers: { 'Content-Disposition': { schema: string } },
            content: { 'application/x-ndjson': { schema: string } },
          },
        },
      }),
    },
    '/v1/audit/subjects/report': {
      post: operation({
        operationId: 'reportSubjectAccesses',
        audited: true,
        summary: 'Who looked at a subject’s records',
        description:
          'Recorded in the audit log before anything is read. `GET` on this path answers ' +
          '`405 method-not-allowed` (with `Allow: POST`): identifiers must not travel in URLs.',
        tag: 'audit',
        access: AUDIT,
        body: asBody(
          {
            subject: SUBJECT,
            from: FILTERS.from as Field,
            to: FILTERS.to as Field,
            outcome: FILTERS.outcome as Field,
            ...PAGE,
          },
          ['subject'],
        ),
        responses: {
          200: json('The accesses, a page at a time.', {
            type: 'object',
            required: ['identifierTypes', 'accesses', 'nextCursor'],
            properties: {
              identifierTypes: { type: 'array', items: string },
              accesses: { type: 'array', items: { type: 'object' } },
              nextCursor: { type: ['string', 'null'] },
            },
          }),
        },
        problems: QUERY_PROBLEMS,
      }),
    },
  };
}
