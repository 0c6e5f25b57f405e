/**
 * Connector onboarding: a department declares the certificate types (and schema versions) its
 * connector answers, and gets back everything the connector needs. A `connector` system registers for
 * its own department, an admin for any. Each type must exist in the catalog in that version and be
 * held by that department. Registering creates the department's request topic with a short retention
 * (request topics carry identifiers in clear). Removing a registration stops new lookups at once (503);
 * lookups already sent still take their replies.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { type Caller, hasAnyRole, MissingRoleError } from '../access/caller.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import { describeSchemaErrors } from '../catalog/schema-errors.js';
import { BadRequestError, ForbiddenError, invalidInput, NotFoundError } from '../foundation/errors.js';
import { CERTIFICATE_TYPE_PATTERN, DEPARTMENT_CODE_PATTERN } from '../protocol/codes.js';
import {
  DEPARTMENT_SIGNATURE_ALGORITHM,
  departmentKeyId,
  HEARTBEAT_SIGNATURE_TYP,
  REPLY_SIGNATURE_TYP,
} from '../protocol/department-signature.js';
import type { ServedCertificateType } from '../protocol/envelopes.js';
import { REQUEST_TOPIC_PARTITIONS, type TopicNames } from '../protocol/topics.js';
import type { ConnectorRegistration, Registry, SystemWithKeys } from './registry.js';
import { ConflictError } from './registry-errors.js';

export interface RegistrationRequest {
  department?: string;
  certificateTypes: Array<{ certificateType: string; schemaVersion?: number }>;
}

/** The registration request's JSON Schema: validated here, described as it is in the OpenAPI document. */
export const REGISTRATION_REQUEST_SCHEMA = {
  type: 'object',
  required: ['certificateTypes'],
  additionalProperties: false,
  properties: {
    department: {
      type: 'string',
      pattern: DEPARTMENT_CODE_PATTERN.source,
      description: 'Default: the caller’s department.',
    },
    certificateTypes: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: {
        type: 'object',
        required: ['certificateType'],
        additionalProperties: false,
        properties: {
          certificateType: { type: 'string', pattern: CERTIFICATE_TYPE_PATTERN.source },
          schemaVersion: { type: 'integer', minimum: 1, maximum: 1000 },
        },
      },
    },
  },
};

const validateRequest = new Ajv2020({ allErrors: true, strict: true }).compile<RegistrationRequest>(
  REGISTRATION_REQUEST_SCHEMA,
);

export function parseRegistrationRequest(body: unknown): RegistrationRequest {
  if (validateRequest(body)) return body;
  throw invalidInput('The connector registration', describeSchemaErrors(validateRequest.errors));
}

/** A connector instance as heartbeats announce it (gateway/lookups/connector-directory.ts). */
export interface AnnouncedInstance {
  department: string;
  instanceId: string;
  live: boolean;
  lastSeen: string;
  certificateTypes: string[];
  connectorVersion?: string;
  inFlight?: number;
}

/** What a connector needs to run: returned on registration and by GET /v1/connectors/{id}. */
export interface ConnectorSetup {
  id: string;
  department: string;
  certificateTypes: Array<ServedCertificateType & { schemaId: string }>;
  createdAt: string;
  createdBy: string;
  topics: {
    requests: string;
    /** Each gateway instance has its own reply topic; every one starts with this prefix. */
    replyTopicPrefix: string;
    heartbeats: string;
    deadLetters: string;
  };
  consumerGroup: string;
  requestTopic: { partitions: number; retentionMs: number };
  signing: {
    algorithm: string;
    replyTyp: string;
    heartbeatTyp: string;
    /** `<system id>#<key id>` of the department's active ES256 connector keys: sign with one of these. */
    keyIds: string[];
    /** Where approval systems fetch the department keys to check signatures offline. */
    publishedAt: string;
  };
  /** A ready `silobridge connector --config` file; fill in the adapters (docs/connectors.md). */
  configFile: string;
}

export interface ConnectorRegistrationsOptions {
  registry: Registry;
  catalog: Pick<SchemaCatalog, 'get' | 'list'>;
  topics: TopicNames;
  topicPrefix: string;
  requestTopicRetentionMs: number;
  /** Creates (or re-configures) the department's request topic. */
  ensureRequestTopic(department: string): Promise<void>;
}

export interface ConnectorRegistrations {
  register(caller: Caller, body: unknown): Promise<ConnectorSetup>;
  list(): Promise<ConnectorSetup[]>;
  get(department: string): Promise<ConnectorSetup>;
  remove(caller: Caller, department: string): Promise<ConnectorSetup>;
}

export const DEPARTMENT_KEYS_PATH = '/.well-known/department-jwks.json';

export function createConnectorRegistrations(options: ConnectorRegistrationsOptions): ConnectorRegistrations {
  const { registry, catalog, topics } = options;

  /** A department's own connector system, or an admin. */
  function authorize(caller: Caller, department: string): void {
    if (hasAnyRole(caller, ['admin'])) return;
    if (!hasAnyRole(caller, ['connector'])) throw new MissingRoleError(caller, 'connector', 'admin');
    if (caller.department !== department) {
      throw new ForbiddenError(
        `System '${caller.systemId}' manages connectors of department '${caller.department}' only, not '${department}'.`,
        'other-department',
      );
    }
  }

  function checkAgainstCatalog(department: string, request: RegistrationRequest): ServedCertificateType[] {
    const seen = new Set<string>();
    return request.certificateTypes.map((entry, index) => {
      const pointer = `/certificateTypes/${index}`;
      const latest = catalog.get(entry.certificateType);
      if (!latest) {
        throw new BadRequestError(
          `Unknown certificate type '${entry.certificateType}'; GET /v1/catalog lists the types.`,
          [{ pointer: `${pointer}/certificateType`, reason: 'unknown certificate type' }],
          'unknown-certificate-type',
        );
      }
      if (seen.has(entry.certificateType)) {
        throw new BadRequestError(
          `Certificate type '${entry.certificateType}' is listed twice.`,
          [{ pointer: `${pointer}/certificateType`, reason: 'listed twice' }],
          'duplicate-certificate-type',
        );
      }
      seen.add(entry.certificateType);
      const schemaVersion = entry.schemaVersion ?? latest.schemaVersion;
      if (!catalog.get(entry.certificateType, schemaVersion)) {
        const known = catalog.list().find((type) => type.certificateType === entry.certificateType);
        throw new BadRequestError(
          `Certificate type '${entry.certificateType}' has no schema version ${schemaVersion}; it has ${known?.schemaVersions.join(', ')}.`,
          [{ pointer: `${pointer}/schemaVersion`, reason: `unknown schema version ${schemaVersion}` }],
          'unknown-schema-version',
        );
      }
      if (latest.provider !== department) {
        throw new ForbiddenError(
          `Certificate type '${entry.certificateType}' is held by department '${latest.provider}': only its connector may answer for it.`,
          'not-the-provider',
          { pointer: `${pointer}/certificateType` },
        );
      }
      return { certificateType: entry.certificateType, schemaVersion };
    });
  }

  /** `<system>#<kid>` of every active ES256 key of the department's enabled connector systems. */
  function signingKeyIds(systems: SystemWithKeys[], department: string): string[] {
    return systems
      .filter((system) => system.department === department)
      .filter((system) => system.enabled && system.roles.includes('connector'))
      .flatMap((system) =>
        system.keys
          .filter((key) => key.status === 'active' && key.alg === DEPARTMENT_SIGNATURE_ALGORITHM)
          .map((key) => departmentKeyId(system.id, key.kid)),
      );
  }

  /** `systems`: at least the department's (one registry read serves a whole list). */
  function setupOf(registration: ConnectorRegistration, systems: SystemWithKeys[]): ConnectorSetup {
    const { department } = registration;
    const keyIds = signingKeyIds(systems, department);
    const setup: Omit<ConnectorSetup, 'configFile'> = {
      id: department,
      department,
      certificateTypes: registration.certificateTypes.map((type) => ({
        ...type,
        schemaId: `https://silobridge.dev/schemas/certificates/${type.certificateType}/${type.schemaVersion}`,
      })),
      createdAt: registration.createdAt,
      createdBy: registration.createdBy,
      topics: {
        requests: topics.lookupRequests(department),
        replyTopicPrefix: topics.lookupReplies(''),
        heartbeats: topics.heartbeats,
        deadLetters: topics.deadLetters,
      },
      consumerGroup: topics.connectorGroup(department),
      requestTopic: { partitions: REQUEST_TOPIC_PARTITIONS, retentionMs: options.requestTopicRetentionMs },
      signing: {
        algorithm: DEPARTMENT_SIGNATURE_ALGORITHM,
        replyTyp: REPLY_SIGNATURE_TYP,
        heartbeatTyp: HEARTBEAT_SIGNATURE_TYP,
        keyIds,
        publishedAt: DEPARTMENT_KEYS_PATH,
      },
    };
    return { ...setup, configFile: connectorConfigFile(setup, options.topicPrefix) };
  }

  async function registrationOf(department: string): Promise<ConnectorRegistration> {
    const registration = (await registry.listRegistrations()).find((r) => r.department === department);
    if (!registration) {
      throw new NotFoundError(
        `Department '${department}' has no registered connector.`,
        'connector-registration-not-found',
      );
    }
    return registration;
  }

  return {
    async register(caller, body) {
      const request = parseRegistrationRequest(body);
      const department = request.department ?? caller.department;
      authorize(caller, department);
      const certificateTypes = checkAgainstCatalog(department, request);
      if (!(await registry.getDepartment(department))) {
        throw new BadRequestError(
          `Department '${department}' is not registered; create it first (POST /v1/departments).`,
          [{ pointer: '/department', reason: `unknown department '${department}'` }],
          'unknown-department',
        );
      }
      const systems = await registry.listSystems(department);
      if (signingKeyIds(systems, department).length === 0) {
        throw new ConflictError(
          `Department '${department}' has no system with the connector role and an active ES256 key to sign replies with. Register one first: silobridge keys generate --alg ES256, then POST /v1/systems (roles ["connector"]) with its public key.`,
          'no-connector-signing-key',
        );
      }
      // The topic first: a registration whose topic could not be made would route lookups nowhere.
      await options.ensureRequestTopic(department);
      const registered = await registry.insertRegistration(caller.systemId, { department, certificateTypes });
      return setupOf(registered, systems);
    },

    async list() {
      const [registrations, systems] = await Promise.all([
        registry.listRegistrations(),
        registry.listSystems(),
      ]);
      return registrations.map((registration) => setupOf(registration, systems));
    },

    async get(department) {
      return setupOf(await registrationOf(department), await registry.listSystems(department));
    },

    async remove(caller, department) {
      authorize(caller, department);
      const removed = await registry.deleteRegistration(caller.systemId, department);
      return setupOf(removed, await registry.listSystems(department));
    },
  };
}

/** A starting `connector.yaml` for `silobridge connector --config`, with this registration filled in. */
function connectorConfigFile(setup: Omit<ConnectorSetup, 'configFile'>, topicPrefix: string): string {
  const [keyId] = setup.signing.keyIds;
  const system = keyId ? keyId.slice(0, keyId.indexOf('#')) : `${setup.department}/connector`;
  const kid = keyId ? keyId.slice(keyId.indexOf('#') + 1) : '<key id>';
  const lines = [
    `# silobridge connector --config connector.yaml  (docs/connectors.md)`,
    `department: ${setup.department}`,
    `system: ${system}`,
    `# The private JWK of ${system}'s key '${kid}' (mode 0600).`,
    `signingKey: ./${system.replace('/', '.')}.jwk`,
    `keyId: ${kid}`,
    `topicPrefix: ${topicPrefix}`,
    'certificateTypes:',
  ];
  for (const type of setup.certificateTypes) {
    lines.push(
      `  ${type.certificateType}:`,
      `    schemaVersion: ${type.schemaVersion}`,
      '    # One adapter: postgres (a table or view) or http (an existing API); see docs/connectors.md.',
      '    postgres:',
      '      connectionString: { fromEnv: DEPARTMENT_DATABASE_URL }',
      '      table: <schema.table>',
      '      subjectColumns: {}',
      '      recordColumns: {}',
    );
  }
  return `${lines.join('\n')}\n`;
}
