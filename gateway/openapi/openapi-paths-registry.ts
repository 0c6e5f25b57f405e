/**
 * The registry (departments, systems, keys), connector onboarding and the policies in force. Request
 * bodies are the very schemas the registry validates them with (gateway/registry/registry-requests.ts,
 * connector-registrations.ts).
 */
import { REGISTRATION_REQUEST_SCHEMA } from '../registry/connector-registrations.js';
import { REGISTRY_REQUEST_SCHEMAS } from '../registry/registry-requests.js';
import { departmentCode } from './openapi-components.js';
import {
  type JsonObject,
  json,
  LOCATION,
  operation,
  pathParameter,
  queryParameter,
  ref,
} from './openapi-operations.js';

const string = { type: 'string' };
const list = (member: string, component: string) => ({
  type: 'object',
  required: [member],
  properties: { [member]: { type: 'array', items: ref(component) } },
});

/** `{department}/{system}`: a system's id as path parameters. */
export const systemPath = [
  pathParameter('department', 'The system’s department code.', departmentCode),
  pathParameter('system', 'The system’s name within its department.', string),
];
const department = pathParameter('department', 'A department code.', departmentCode);
const SELF = 'the system itself';
const OWN_DEPARTMENT = '`connector`: its own department only';

const KEY_PROBLEMS = ['invalid-request', 'invalid-key', 'private-key-submitted'];

export function registryPaths(): JsonObject {
  return {
    '/v1/whoami': {
      get: operation({
        operationId: 'whoAmI',
        summary: 'The caller as the gateway sees it',
        tag: 'registry',
        access: 'any',
        responses: { 200: json('System, department, roles (from the registry) and key id.', ref('Caller')) },
      }),
    },
    '/v1/departments': {
      get: operation({
        operationId: 'listDepartments',
        summary: 'Departments',
        tag: 'registry',
        access: 'any',
        responses: { 200: json('Every department.', list('departments', 'Department')) },
      }),
      post: operation({
        operationId: 'createDepartment',
        audited: true,
        summary: 'Add a department',
        tag: 'registry',
        access: { roles: ['admin'] },
        body: REGISTRY_REQUEST_SCHEMAS.department,
        responses: { 201: json('Added (audited).', ref('Department'), LOCATION) },
        problems: { 400: ['invalid-request'], 409: ['department-exists'] },
      }),
    },
    '/v1/departments/{code}': {
      get: operation({
        operationId: 'getDepartment',
        summary: 'One department',
        tag: 'registry',
        access: 'any',
        parameters: [pathParameter('code', 'A department code.', departmentCode)],
        responses: { 200: json('The department.', ref('Department')) },
        problems: { 404: ['department-not-found'] },
      }),
    },
    '/v1/systems': {
      get: operation({
        operationId: 'listSystems',
        summary: 'Registered systems',
        tag: 'registry',
        access: { roles: ['admin', 'audit'] },
        parameters: [queryParameter('department', 'Only this department’s systems.', departmentCode)],
        responses: { 200: json('Systems with their keys.', list('systems', 'System')) },
      }),
      post: operation({
        operationId: 'createSystem',
        audited: true,
        summary: 'Register a system',
        tag: 'registry',
        access: { roles: ['admin'] },
        body: REGISTRY_REQUEST_SCHEMAS.system,
        responses: { 201: json('Registered (audited).', ref('System'), LOCATION) },
        problems: {
          400: ['invalid-request', 'unknown-department', ...KEY_PROBLEMS],
          409: ['system-exists', 'key-already-registered', 'registry-conflict'],
        },
      }),
    },
    '/v1/systems/{department}/{system}': {
      get: operation({
        operationId: 'getSystem',
        summary: 'One system',
        tag: 'registry',
        access: { roles: ['admin', 'audit'], self: SELF },
        parameters: systemPath,
        responses: { 200: json('The system with its keys.', ref('System')) },
        problems: { 404: ['system-not-found'] },
      }),
      patch: operation({
        operationId: 'updateSystem',
        audited: true,
        summary: 'Rename, change roles, enable or disable a system',
        description: 'The last enabled admin cannot lose its role or be disabled (`409 last-admin`).',
        tag: 'registry',
        access: { roles: ['admin'] },
        parameters: systemPath,
        body: REGISTRY_REQUEST_SCHEMAS.systemChanges,
        responses: { 200: json('The system as changed (audited).', ref('System')) },
        problems: {
          400: ['invalid-request'],
          404: ['system-not-found'],
          409: ['last-admin', 'registry-conflict'],
        },
      }),
    },
    '/v1/systems/{department}/{system}/keys': {
      get: operation({
        operationId: 'listSystemKeys',
        summary: 'A system’s keys',
        tag: 'registry',
        access: { roles: ['admin', 'audit'], self: SELF },
        parameters: systemPath,
        responses: { 200: json('Active and retired keys.', list('keys', 'Key')) },
        problems: { 404: ['system-not-found'] },
      }),
      post: operation({
        operationId: 'addSystemKey',
        audited: true,
        summary: 'Register a public key',
        description: 'A system rotates its own keys: register the new key, switch to it, retire the old one.',
        tag: 'registry',
        access: { roles: ['admin'], self: SELF },
        parameters: systemPath,
        body: ref('NewKey'),
        responses: { 201: json('Registered (audited).', ref('Key'), LOCATION) },
        problems: {
          400: KEY_PROBLEMS,
          404: ['system-not-found'],
          409: ['key-already-registered', 'key-exists', 'registry-conflict'],
        },
      }),
    },
    '/v1/systems/{department}/{system}/keys/{kid}': {
      delete: operation({
        operationId: 'retireSystemKey',
        audited: true,
        summary: 'Retire a key',
        description:
          'Retired keys never come back. A system cannot retire its own last active key (`409 last-active-key`); an admin can.',
        tag: 'registry',
        access: { roles: ['admin'], self: SELF },
        parameters: [...systemPath, pathParameter('kid', 'The key id.', string)],
        responses: { 200: json('The key, retired (audited).', ref('Key')) },
        problems: {
          404: ['system-not-found', 'key-not-found'],
          409: ['key-already-retired', 'last-active-key', 'registry-conflict'],
        },
      }),
    },
    '/v1/connectors': {
      post: operation({
        operationId: 'registerConnector',
        audited: true,
        summary: 'Register a department’s connector',
        description:
          'A `connector` system registers for its own department, an admin for any (docs/connectors.md).',
        tag: 'connectors',
        access: { roles: ['connector', 'admin'], note: OWN_DEPARTMENT },
        body: REGISTRATION_REQUEST_SCHEMA,
        responses: { 201: json('Everything the connector needs.', ref('ConnectorSetup'), LOCATION) },
        problems: {
          400: [
            'invalid-request',
            'unknown-certificate-type',
            'unknown-schema-version',
            'duplicate-certificate-type',
            'unknown-department',
          ],
          403: ['access-denied'],
          409: ['connector-already-registered', 'no-connector-signing-key'],
        },
      }),
      get: operation({
        operationId: 'listConnectors',
        summary: 'Connector registrations and live instances',
        tag: 'connectors',
        access: { roles: ['connector', 'admin', 'audit'] },
        responses: {
          200: json('Registrations, and instances heard from whose department has none.', {
            type: 'object',
            required: ['connectors', 'unregisteredInstances'],
            properties: {
              connectors: { type: 'array', items: ref('ConnectorSetup') },
              unregisteredInstances: { type: 'array', items: ref('ConnectorInstance') },
            },
          }),
        },
      }),
    },
    '/v1/connectors/{department}': {
      get: operation({
        operationId: 'getConnector',
        summary: 'One registration with its instances',
        tag: 'connectors',
        access: { roles: ['connector', 'admin', 'audit'] },
        parameters: [department],
        responses: { 200: json('The registration.', ref('ConnectorSetup')) },
        problems: { 404: ['connector-registration-not-found'] },
      }),
      delete: operation({
        operationId: 'removeConnector',
        audited: true,
        summary: 'Remove a registration',
        description:
          'New lookups for its types get `503 connector-not-registered` at once; lookups already sent still take their replies.',
        tag: 'connectors',
        access: { roles: ['connector', 'admin'], note: OWN_DEPARTMENT },
        parameters: [department],
        responses: {
          200: json('The registration removed.', {
            allOf: [ref('ConnectorSetup'), { type: 'object', properties: { removed: { const: true } } }],
          }),
        },
        problems: { 403: ['access-denied'], 404: ['connector-registration-not-found'] },
      }),
    },
    '/v1/policies': {
      get: operation({
        operationId: 'getPolicySet',
        summary: 'The policy set in force',
        tag: 'policies',
        access: { roles: ['admin', 'audit'] },
        responses: { 200: json('Revision, files and policies.', { type: 'object' }) },
      }),
    },
    '/v1/policies/effective': {
      get: operation({
        operationId: 'getEffectivePolicy',
        summary: 'What a requester may see',
        description:
          'Matters, fields, masks, legal basis, validity and whether each grant is in force (docs/identity-and-policy.md).',
        tag: 'policies',
        access: { roles: ['admin', 'audit'], self: 'any system about itself or its own department' },
        parameters: [
          queryParameter('requester', 'A system id or a department code (default: the caller).', {
            type: 'string',
          }),
        ],
        responses: { 200: json('The effective policy.', { type: 'object' }) },
        problems: { 400: ['invalid-query'] },
      }),
    },
  };
}
