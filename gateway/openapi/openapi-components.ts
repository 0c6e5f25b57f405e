/**
 * Schemas of answers (and of the registry's bodies) shared by several operations. Patterns, enums and
 * limits come from the constants the gateway checks with, so the words here cannot drift from them.
 */

import { ROLES } from '../access/caller.js';
import { EVENT_KINDS } from '../audit/audit-query.js';
import { PROBLEM_TYPE_BASE } from '../foundation/errors.js';
import { SIGNING_ALGORITHMS } from '../identity/system-keys.js';
import { CERTIFICATE_TYPE_PATTERN, DEPARTMENT_CODE_PATTERN, SYSTEM_ID_PATTERN } from '../protocol/codes.js';
import { REGISTRY_REQUEST_SCHEMAS } from '../registry/registry-requests.js';
import type { JsonObject } from './openapi-operations.js';

const string = { type: 'string' };
const dateTime = { type: 'string', format: 'date-time' };
const integer = { type: 'integer', minimum: 0 };
const strings = { type: 'array', items: string };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

export const departmentCode = { type: 'string', pattern: DEPARTMENT_CODE_PATTERN.source };
export const systemId = { type: 'string', pattern: SYSTEM_ID_PATTERN.source };
export const certificateType = { type: 'string', pattern: CERTIFICATE_TYPE_PATTERN.source };
export const roles = { type: 'array', items: { enum: [...ROLES] }, uniqueItems: true };

function object(properties: JsonObject, required: string[] = [], extra: JsonObject = {}): JsonObject {
  return { type: 'object', ...(required.length > 0 ? { required } : {}), properties, ...extra };
}

const problem = object(
  {
    type: {
      type: 'string',
      format: 'uri',
      description: `Stable: \`${PROBLEM_TYPE_BASE}<name>\`. Branch on it, not on \`detail\`.`,
    },
    title: string,
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: string,
    instance: {
      type: 'string',
      description: '`urn:silobridge:request:<request id>`; send `X-Request-Id` to choose the id.',
    },
    errors: {
      type: 'array',
      description: 'What is wrong with the input, as JSON Pointers into it.',
      items: object({ pointer: string, reason: string }, ['pointer', 'reason']),
    },
    reason: { type: 'string', description: 'Why access was denied (`access-denied`, `rate-limited`).' },
    lookupId: { type: 'string', description: 'The lookup the problem ended, as the audit log names it.' },
  },
  ['type', 'title', 'status', 'detail'],
  { description: 'RFC 9457 problem details; more members may say more (`limitBytes`, `checks`, ...).' },
);

const jwk = object({ kty: string, kid: string, alg: string, use: string }, ['kty'], {
  description: 'A public JSON Web Key (RFC 7517).',
});

const key = object(
  {
    kid: string,
    alg: { enum: [...SIGNING_ALGORITHMS] },
    status: { enum: ['active', 'retired'] },
    thumbprint: string,
    createdAt: dateTime,
    createdBy: string,
    retiredAt: dateTime,
    retiredBy: string,
    jwk,
  },
  ['kid', 'alg', 'status', 'thumbprint', 'createdAt', 'createdBy', 'jwk'],
);

const instance = object(
  {
    instanceId: string,
    live: { type: 'boolean' },
    lastSeen: dateTime,
    certificateTypes: strings,
    connectorVersion: string,
    inFlight: integer,
  },
  ['instanceId', 'live', 'lastSeen', 'certificateTypes'],
);

const connectorSetup = object(
  {
    id: string,
    department: departmentCode,
    certificateTypes: {
      type: 'array',
      items: object({ certificateType, schemaVersion: { type: 'integer' }, schemaId: string }, [
        'certificateType',
        'schemaVersion',
        'schemaId',
      ]),
    },
    createdAt: dateTime,
    createdBy: string,
    topics: object({ requests: string, replyTopicPrefix: string, heartbeats: string, deadLetters: string }),
    consumerGroup: string,
    requestTopic: object({ partitions: { type: 'integer' }, retentionMs: { type: 'integer' } }),
    signing: object({
      algorithm: string,
      replyTyp: string,
      heartbeatTyp: string,
      keyIds: { ...strings, description: '`<system>#<key>` ids to sign replies and heartbeats with.' },
      publishedAt: string,
    }),
    configFile: { type: 'string', description: 'A starting `connector.yaml` (docs/connectors.md).' },
    instances: { type: 'array', items: { ...instance, description: 'A connector instance heard from.' } },
  },
  ['id', 'department', 'certificateTypes', 'topics', 'consumerGroup', 'signing', 'instances'],
);

const chainRow = object(
  {
    sequence: { type: 'integer', minimum: 1 },
    prevHash: string,
    hash: string,
    event: object(
      {
        v: { type: 'integer' },
        kind: { enum: [...EVENT_KINDS] },
        at: dateTime,
        sequence: { type: 'integer' },
      },
      ['kind', 'at'],
      { description: 'The event as recorded; its members depend on `kind` (docs/audit.md).' },
    ),
  },
  ['sequence', 'prevHash', 'hash', 'event'],
);

export const sharedComponents: Record<string, JsonObject> = {
  Problem: problem,
  JsonWebKey: jwk,
  JsonWebKeySet: object({ keys: { type: 'array', items: ref('JsonWebKey') } }, ['keys']),
  Caller: object({ systemId, department: departmentCode, roles, keyId: string }, [
    'systemId',
    'department',
    'roles',
  ]),
  Department: object({ code: departmentCode, nameEn: string, nameZh: string, createdAt: dateTime }, [
    'code',
    'nameEn',
    'nameZh',
  ]),
  Key: key,
  NewKey: REGISTRY_REQUEST_SCHEMAS.key,
  System: object(
    {
      id: systemId,
      department: departmentCode,
      name: string,
      roles,
      enabled: { type: 'boolean' },
      createdAt: dateTime,
      updatedAt: dateTime,
      keys: { type: 'array', items: ref('Key') },
    },
    ['id', 'department', 'name', 'roles', 'enabled', 'keys'],
  ),
  ConnectorSetup: connectorSetup,
  ConnectorInstance: {
    ...instance,
    properties: { ...(instance.properties as JsonObject), department: departmentCode },
  },
  AuditEvent: chainRow,
  EventPage: object(
    {
      events: { type: 'array', items: ref('AuditEvent') },
      nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page.' },
    },
    ['events', 'nextCursor'],
  ),
};
