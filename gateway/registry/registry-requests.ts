/**
 * Request bodies of the registry API, checked by ajv. Keys are checked further (node-jose) by the
 * registry itself; here only their shape.
 */

import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { ROLES } from '../access/caller.js';
import { describeSchemaErrors } from '../catalog/schema-errors.js';
import { invalidInput } from '../foundation/errors.js';
import { SIGNING_ALGORITHMS } from '../identity/system-keys.js';
import { DEPARTMENT_CODE_PATTERN, SYSTEM_ID_PATTERN } from '../protocol/codes.js';
import type { NewKey, NewSystem, SystemChanges } from './registry.js';
import type { Department } from './registry-store.js';

const ajv = new Ajv2020({ allErrors: true, strict: true });

const name = { type: 'string', minLength: 1, maxLength: 200 };
const roles = { type: 'array', items: { enum: [...ROLES] }, uniqueItems: true, maxItems: ROLES.length };
const key = {
  type: 'object',
  required: ['jwk'],
  additionalProperties: false,
  properties: {
    jwk: { type: 'object', description: 'The public JWK (a private one is refused).' },
    alg: { enum: [...SIGNING_ALGORITHMS], description: 'Pinned on the key; default from the key type.' },
  },
};

/** The request bodies' JSON Schemas: validated here, described as they are in the OpenAPI document. */
export const REGISTRY_REQUEST_SCHEMAS = {
  department: {
    type: 'object',
    required: ['code', 'nameEn', 'nameZh'],
    additionalProperties: false,
    properties: {
      code: { type: 'string', pattern: DEPARTMENT_CODE_PATTERN.source },
      nameEn: name,
      nameZh: name,
    },
  },
  system: {
    type: 'object',
    required: ['id', 'name', 'roles'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', pattern: SYSTEM_ID_PATTERN.source },
      name,
      roles,
      keys: { type: 'array', items: key, maxItems: 5 },
    },
  },
  systemChanges: {
    type: 'object',
    minProperties: 1,
    additionalProperties: false,
    properties: { name, roles, enabled: { type: 'boolean' } },
  },
  key,
};

const validateDepartment = ajv.compile<Omit<Department, 'createdAt'>>(REGISTRY_REQUEST_SCHEMAS.department);
const validateSystem = ajv.compile<NewSystem>(REGISTRY_REQUEST_SCHEMAS.system);
const validateChanges = ajv.compile<SystemChanges>(REGISTRY_REQUEST_SCHEMAS.systemChanges);
const validateKey = ajv.compile<NewKey>(key);

function check<T>(
  validate: { (body: unknown): body is T; errors?: ErrorObject[] | null },
  body: unknown,
  what: string,
): T {
  if (validate(body)) return body;
  throw invalidInput(`The ${what}`, describeSchemaErrors(validate.errors));
}

export const parseDepartment = (body: unknown) => check(validateDepartment, body, 'department');
export const parseNewSystem = (body: unknown) => check(validateSystem, body, 'system');
export const parseSystemChanges = (body: unknown) => check(validateChanges, body, 'system change');
export const parseNewKey = (body: unknown) => check(validateKey, body, 'key');
