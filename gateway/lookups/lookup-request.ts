/**
 * Checks a lookup request body against schemas/api/lookup-request.schema.json (its shape; the subject
 * is checked later against the certificate type's own subject schema).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describeSchemaErrors } from '../catalog/schema-errors.js';
import { BadRequestError, type InvalidParam } from '../errors.js';
import { schemasDir } from '../paths.js';
import type { LookupRequest } from './lookup-pipeline.js';

const ajv = new Ajv2020({ allErrors: true, strict: true });
const readSchema = (file: string) =>
  JSON.parse(readFileSync(path.join(schemasDir, 'api', file), 'utf8')) as object;
const validateLookup = ajv.compile<LookupRequest>(readSchema('lookup-request.schema.json'));
const validateBatch = ajv.compile<{ lookups: unknown[] }>(readSchema('lookup-batch-request.schema.json'));

function describe(errors: InvalidParam[]): string {
  return errors.map((error) => `${error.pointer} ${error.reason}`).join('; ');
}

export function parseLookupRequest(body: unknown): LookupRequest {
  if (validateLookup(body)) return body;
  const errors = describeSchemaErrors(validateLookup.errors);
  throw new BadRequestError(`The lookup request is not valid: ${describe(errors)}.`, errors);
}

export function parseBatchRequest(body: unknown): unknown[] {
  if (validateBatch(body)) return body.lookups;
  const errors = describeSchemaErrors(validateBatch.errors);
  throw new BadRequestError(`The batch request is not valid: ${describe(errors)}.`, errors);
}
