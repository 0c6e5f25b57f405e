/**
 * The matter catalogue and evidence bundles (gateway/matters/). The request body is the schema the
 * gateway validates with (EVIDENCE_REQUEST_SCHEMA); the answers are described here from the same
 * constants (item statuses, parties, denial reasons).
 */

import { EVIDENCE_REQUEST_SCHEMA } from '../matters/evidence-request.js';
import { ITEM_STATUSES } from '../matters/evidence-service.js';
import { PARTIES } from '../matters/matter-catalogue.js';
import { type JsonObject, json, operation, pathParameter } from './openapi-operations.js';

const string = { type: 'string' };
const text = {
  type: 'object',
  required: ['zh', 'en'],
  properties: { zh: string, en: string },
  description: 'The same words in Chinese and English.',
};
const matterCode = pathParameter('code', 'The matter code (事项编码), e.g. `SC-0201`.', {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
});

const evidencePolicy = {
  description:
    'Whether the caller’s policy lets it fetch this certificate type for this matter now: the fields and masks it would get, or the reason a lookup would be denied.',
  oneOf: [
    {
      type: 'object',
      required: ['allowed', 'policyId', 'fields', 'masked'],
      properties: {
        allowed: { const: true },
        policyId: string,
        fields: { type: 'array', items: string },
        masked: { type: 'object', additionalProperties: string },
      },
    },
    {
      type: 'object',
      required: ['allowed', 'reason'],
      properties: {
        allowed: { const: false },
        reason: {
          enum: [
            'unknown-requester',
            'type-not-allowed',
            'matter-not-allowed',
            'policy-not-yet-valid',
            'policy-expired',
          ],
        },
      },
    },
  ],
};

const matter: JsonObject = {
  type: 'object',
  required: [
    'code',
    'name',
    'party',
    'applicantIdentifiers',
    'legalBasis',
    'requiredEvidenceAllowed',
    'evidence',
  ],
  properties: {
    code: string,
    name: text,
    party: { enum: [...PARTIES] },
    applicantIdentifiers: {
      type: 'array',
      items: string,
      description: 'The identifiers `applicant` takes when asking for the evidence.',
    },
    legalBasis: string,
    description: string,
    requiredEvidenceAllowed: {
      type: 'boolean',
      description: 'Whether the policy allows at least one certificate type of every required item.',
    },
    evidence: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name', 'required', 'certificateTypes'],
        properties: {
          id: string,
          name: text,
          required: { type: 'boolean' },
          otherwise: { ...text, description: 'What the applicant may bring instead (on paper).' },
          certificateTypes: {
            type: 'array',
            description: 'Alternatives: any one of them proves this item.',
            items: {
              type: 'object',
              required: ['certificateType', 'title', 'provider', 'subject', 'policy'],
              properties: {
                certificateType: string,
                title: text,
                provider: string,
                subject: {
                  type: 'array',
                  items: string,
                  description: 'The applicant identifiers its lookup subject is made of.',
                },
                policy: evidencePolicy,
              },
            },
          },
        },
      },
    },
  },
};

const bundleItem = {
  type: 'object',
  required: ['evidence', 'certificateType', 'required', 'status', 'lookupId'],
  description:
    'One certificate type of the matter, looked up and audited as a lookup. When `found`, it carries what a lookup response carries (record, digests, both signatures) and verifies the same way.',
  properties: {
    evidence: string,
    certificateType: string,
    required: { type: 'boolean' },
    status: { enum: [...ITEM_STATUSES] },
    lookupId: { type: 'string', description: 'The lookup’s id in the audit log.' },
    reason: {
      type: 'string',
      description: 'Not found: the policy’s denial reason, or the lookup’s problem type.',
    },
    detail: string,
    provider: string,
    schemaVersion: { type: 'integer' },
    record: { type: 'object', description: 'Projected and masked per policy, as a lookup’s.' },
    recordDigest: string,
    retrievedAt: { type: 'string', format: 'date-time' },
    signature: { type: 'string', description: 'The gateway’s signature of this record, as a lookup’s.' },
    departmentSignature: {
      type: 'object',
      required: ['keyId', 'signature', 'disclosures'],
      properties: {
        keyId: string,
        signature: string,
        disclosures: { type: 'object', additionalProperties: string },
      },
    },
  },
};

const bundle = {
  type: 'object',
  required: ['bundleId', 'matter', 'requester', 'createdAt', 'items', 'missing', 'signature'],
  properties: {
    bundleId: { type: 'string', description: 'In the audit event of every item’s lookup.' },
    matter: string,
    requester: {
      type: 'object',
      required: ['department'],
      properties: { department: string, system: string },
    },
    createdAt: { type: 'string', format: 'date-time' },
    items: { type: 'array', items: bundleItem },
    missing: {
      type: 'array',
      description: 'Required evidence not obtained: what to ask the applicant for.',
      items: {
        type: 'object',
        required: ['evidence', 'name', 'anyOf'],
        properties: {
          evidence: string,
          name: text,
          anyOf: { type: 'array', items: string },
          otherwise: text,
        },
      },
    },
    signature: {
      type: 'string',
      description:
        'Compact JWS (typ `silobridge-evidence-bundle+jws`, keys at /.well-known/jwks.json) over bundleId, matter, requester, createdAt and each item’s evidence, certificateType, lookupId, status and recordDigest.',
    },
  },
};

const LOOKUP_ACCESS = { roles: ['lookup'] } as const;
const NOT_FOUND = { 404: ['matter-not-found'] };

export function matterPaths(): JsonObject {
  return {
    '/v1/matters': {
      get: operation({
        operationId: 'listMatters',
        summary: 'List the matter catalogue',
        description:
          'Every matter of the catalogue (事项清单), with what it needs and what the caller’s policy lets it fetch for it.',
        tag: 'lookups',
        access: LOOKUP_ACCESS,
        responses: {
          200: json('The matters, by code.', {
            type: 'object',
            required: ['matters'],
            properties: { matters: { type: 'array', items: matter } },
          }),
        },
      }),
    },
    '/v1/matters/{code}': {
      get: operation({
        operationId: 'getMatter',
        summary: 'Read one matter',
        description:
          'What the matter needs (required and optional evidence, alternatives), for which applicant, on which legal basis, and per certificate type whether the caller’s policy allows it.',
        tag: 'lookups',
        access: LOOKUP_ACCESS,
        parameters: [matterCode],
        responses: { 200: json('The matter.', matter) },
        problems: NOT_FOUND,
      }),
    },
    '/v1/matters/{code}/evidence': {
      post: operation({
        operationId: 'collectEvidence',
        summary: 'Fetch all the evidence of a matter',
        description:
          'Looks up every certificate type the matter names, in parallel and within one deadline, each as a lookup (policy, rate limit, audit with the bundle id, signatures, masking), and answers one signed bundle: 200 whatever the items’ outcomes.',
        tag: 'lookups',
        access: LOOKUP_ACCESS,
        parameters: [matterCode],
        body: EVIDENCE_REQUEST_SCHEMA as unknown as JsonObject,
        responses: { 200: json('The bundle.', bundle) },
        problems: { 400: ['invalid-request', 'invalid-applicant'], ...NOT_FOUND },
      }),
    },
  };
}
