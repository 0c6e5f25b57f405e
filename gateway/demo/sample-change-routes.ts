/**
 * POST /v1/sample-connectors/changes (role `admin`), only while the sample connectors run in this
 * gateway (the embedded demo): changes a sample record (revokes a licence, say) in the department
 * that holds it and has its connector publish the signed change event, exactly as a real department's
 * connector would. Subscribed approval systems then get their notices: the demo shows the whole path.
 */

import { Ajv2020 } from 'ajv/dist/2020.js';
import { type RequestHandler, Router } from 'express';
import { RecordChangeError } from '../../connectors/runtime/change-events.js';
import { SampleChangeError } from '../../connectors/samples/sample-connectors.js';
import { requireRole } from '../access/caller.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import { describeSchemaErrors } from '../catalog/schema-errors.js';
import { BadRequestError, invalidInput, NotFoundError } from '../foundation/errors.js';
import { throwIfUnreadable } from '../http/json-body.js';
import type { SampleConnectors } from './run-sample-connector.js';

export const SAMPLE_CHANGE_SCHEMA = {
  type: 'object',
  required: ['certificateType', 'subject', 'change'],
  additionalProperties: false,
  properties: {
    certificateType: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,62}$' },
    subject: {
      type: 'object',
      description: 'One identifier of a sample record, as a lookup names it.',
      minProperties: 1,
      maxProperties: 10,
      additionalProperties: { type: 'string', minLength: 1, maxLength: 256 },
    },
    change: { enum: ['revoked', 'expired', 'amended'] },
    fields: {
      type: 'object',
      maxProperties: 100,
      description: 'Record fields to set; `revoked` and `expired` set `status` themselves.',
    },
    effectiveAt: { type: 'string', maxLength: 64, description: 'RFC 3339; default: now.' },
  },
} as const;

interface SampleChangeBody {
  certificateType: string;
  subject: Record<string, string>;
  change: 'revoked' | 'expired' | 'amended';
  fields?: Record<string, unknown>;
  effectiveAt?: string;
}

const validate = new Ajv2020({ allErrors: true, strict: true }).compile<SampleChangeBody>(
  SAMPLE_CHANGE_SCHEMA,
);

export function createSampleChangeRouter(options: {
  samples: Pick<SampleConnectors, 'applyChange'>;
  catalog: Pick<SchemaCatalog, 'get'>;
  authenticate: RequestHandler;
}): Router {
  const { samples, catalog, authenticate } = options;
  return Router().post(
    '/v1/sample-connectors/changes',
    authenticate,
    requireRole('admin'),
    async (req, res) => {
      throwIfUnreadable(req.body);
      if (!validate(req.body)) throw invalidInput('The sample change', describeSchemaErrors(validate.errors));
      const body = req.body;
      const provider = catalog.get(body.certificateType)?.provider;
      if (!provider) {
        throw new BadRequestError(
          `Unknown certificate type '${body.certificateType}'; GET /v1/catalog lists the types.`,
          [{ pointer: '/certificateType', reason: 'unknown certificate type' }],
          'unknown-certificate-type',
        );
      }
      try {
        const event = await samples.applyChange(provider, body);
        res.status(202).json(event);
      } catch (error) {
        if (error instanceof SampleChangeError && error.code === 'record-not-found') {
          throw new NotFoundError(`${error.message}.`, 'record-not-found');
        }
        if (error instanceof SampleChangeError || error instanceof RecordChangeError) {
          throw new BadRequestError(
            `The sample change cannot be made: ${error.message}.`,
            [],
            'invalid-sample-change',
          );
        }
        throw error;
      }
    },
  );
}
