/**
 * Lookups, described from the schemas they are validated with: the request body is
 * schemas/api/lookup-request.schema.json, its `subject` the certificate type's own `$defs/subject`, and
 * the answer's `record` the type's `$defs/record` (projected and masked by policy), one alternative per
 * certificate type and schema version.
 */
import { DENIAL_REASONS } from '../policy/policy-decision.js';
import { type JsonObject, json, operation, ref } from './openapi-operations.js';
import type { CertificateComponent, SharedSchemas } from './openapi-schemas.js';

const string = { type: 'string' };

const RECORD_NOTE =
  'The certificate record, projected to the fields the policy grants (or the `fields` asked for) and ' +
  'masked: fields left out are absent and masked values keep only some characters, so a record may ' +
  'lack fields the schema requires or break its identifier formats.';

const departmentSignature = {
  type: 'object',
  required: ['keyId', 'signature', 'disclosures'],
  description: "The provider department's own signature, as its connector made it (docs/protocol.md, 5.1).",
  properties: {
    keyId: { type: 'string', description: '`<system>#<key>`, in /.well-known/department-jwks.json.' },
    signature: { type: 'string', description: 'Compact JWS over the lookup and each field’s salted digest.' },
    disclosures: {
      type: 'object',
      description: 'Per released field, base64url of `[salt, field, value]`; a masked field has none.',
      additionalProperties: string,
    },
  },
};

function lookupResponse(certificate: CertificateComponent): JsonObject {
  return {
    title: `${certificate.title.en} (v${certificate.schemaVersion}) lookup`,
    type: 'object',
    required: [
      'lookupId',
      'certificateType',
      'schemaVersion',
      'provider',
      'record',
      'recordDigest',
      'retrievedAt',
      'signature',
      'departmentSignature',
    ],
    properties: {
      lookupId: { type: 'string', description: 'The lookup’s id in the audit log.' },
      certificateType: { const: certificate.certificateType },
      schemaVersion: { const: certificate.schemaVersion },
      provider: { const: certificate.provider },
      record: { $ref: certificate.record, description: RECORD_NOTE },
      recordDigest: { type: 'string', description: 'Hex SHA-256 of the record’s RFC 8785 canonical JSON.' },
      retrievedAt: { type: 'string', format: 'date-time' },
      signature: {
        type: 'string',
        description:
          'The gateway’s compact JWS binding lookupId, recordDigest, requester, retrievedAt and certificateType; keys at /.well-known/jwks.json.',
      },
      departmentSignature,
      checkpoint: {
        type: 'string',
        description:
          'The audit log’s newest signed checkpoint when this answer was signed: a compact JWS (typ ' +
          '`silobridge-audit-checkpoint+jws`, keys at /.well-known/jwks.json) over `{log, sequence, hash, at}`. ' +
          'Keep it with the response: it proves the log held that history (`silobridge audit verify --against`). ' +
          'Absent until the log has a checkpoint.',
      },
    },
  };
}

/** Lookup answers as components, one per certificate type and version, and the union of them. */
export function lookupComponents(shared: SharedSchemas): Record<string, JsonObject> {
  const names = shared.certificates.map(
    (certificate) => `LookupResponse.${certificate.certificateType}.v${certificate.schemaVersion}`,
  );
  const components: Record<string, JsonObject> = Object.fromEntries(
    shared.certificates.map((certificate, index) => [names[index], lookupResponse(certificate)]),
  );
  const types = shared.certificates.map((certificate) => certificate.certificateType);
  // A discriminator maps each value to one schema: only while every type has one schema version.
  const discriminator =
    new Set(types).size === types.length
      ? {
          discriminator: {
            propertyName: 'certificateType',
            mapping: Object.fromEntries(
              types.map((type, index) => [type, `#/components/schemas/${names[index]}`]),
            ),
          },
        }
      : {};
  components.LookupResponse = { oneOf: names.map((name) => ref(name)), ...discriminator };
  components.LookupRequestBody = {
    description: 'The lookup request; `subject` as the certificate type’s subject schema says.',
    allOf: [
      { $ref: shared.lookupRequest },
      {
        oneOf: shared.certificates
          .filter(
            (certificate, index, all) =>
              all.findIndex((c) => c.certificateType === certificate.certificateType) === index,
          )
          .map((certificate) => ({
            title: certificate.title.en,
            type: 'object',
            required: ['certificateType'],
            properties: {
              certificateType: { const: certificate.certificateType },
              subject: { $ref: certificate.subject },
            },
          })),
      },
    ],
  };
  components.LookupBatchResponse = {
    type: 'object',
    required: ['results', 'summary'],
    properties: {
      results: {
        type: 'array',
        items: {
          type: 'object',
          required: ['index', 'status'],
          description: 'One per item, in order: `lookup` when `status` is 200, else `problem`.',
          properties: {
            index: { type: 'integer', minimum: 0 },
            status: { type: 'integer' },
            lookup: ref('LookupResponse'),
            problem: ref('Problem'),
          },
        },
      },
      summary: {
        type: 'object',
        required: ['total', 'succeeded', 'failed'],
        properties: {
          total: { type: 'integer' },
          succeeded: { type: 'integer' },
          failed: { type: 'integer' },
        },
      },
    },
  };
  return components;
}

const LOOKUP_ACCESS = { roles: ['lookup'] } as const;
const denial = `\`reason\` one of ${DENIAL_REASONS.filter((reason) => reason !== 'rate-limited')
  .map((reason) => `\`${reason}\``)
  .join(', ')}`;

const SINGLE_PROBLEMS = {
  400: ['invalid-request', 'invalid-subject', 'unknown-certificate-type', 'unknown-field'],
  403: ['access-denied'],
  404: ['record-not-found'],
  429: ['rate-limited'],
  502: [
    'provider-signature-invalid',
    'invalid-provider-reply',
    'mismatched-provider-reply',
    'invalid-provider-record',
    'provider-error',
  ],
  503: [
    'connector-not-registered',
    'no-live-connector',
    'provider-busy',
    'audit-unavailable',
    'bus-unavailable',
    'rate-limit-unavailable',
  ],
  504: ['provider-timeout'],
};

export function lookupPaths(shared: SharedSchemas): JsonObject {
  return {
    '/v1/lookups': {
      post: operation({
        operationId: 'lookUpCertificate',
        summary: 'Look up one certificate',
        description:
          'Asks the department that holds the certificate for it, for the stated purpose. Every outcome, ' +
          `granted or not, is an audit event under its \`lookupId\`. A denial (403 \`access-denied\`) has ${denial}. ` +
          'A body the gateway cannot read is refused after authentication, with a `lookupId`, so the attempt is audited.',
        tag: 'lookups',
        access: LOOKUP_ACCESS,
        body: ref('LookupRequestBody'),
        responses: {
          200: json('The record, signed by the gateway and by the department.', ref('LookupResponse')),
        },
        problems: SINGLE_PROBLEMS,
      }),
    },
    '/v1/lookups:batch': {
      post: operation({
        operationId: 'lookUpCertificates',
        summary: 'Look up up to 100 certificates',
        description:
          'Each item is validated, decided, fetched and audited on its own, concurrently; one bad item does ' +
          'not fail the others. The answer is 200 whatever the items’ outcomes: each has its own `status` and ' +
          'either `lookup` or `problem` (the problems of the single lookup).',
        tag: 'lookups',
        access: LOOKUP_ACCESS,
        body: { $ref: shared.lookupBatchRequest },
        responses: { 200: json('One result per item, and a summary.', ref('LookupBatchResponse')) },
        problems: { 400: ['invalid-request'], 503: ['audit-unavailable'] },
      }),
    },
  };
}
