/**
 * Checks a lookup request body against schemas/api/lookup-request.schema.json (its shape; the subject
 * is checked later against the certificate type's own subject schema). A body the gateway could not
 * read at all (malformed, too large, too deeply nested: gateway/http/json-body.ts) arrives here as an
 * `UnreadableBody` and is refused here, inside the lookup service, so the attempt is audited too.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { LookupRequest } from '../access/lookup-terms.js';
import { describeSchemaErrors } from '../catalog/schema-errors.js';
import { invalidInput } from '../foundation/errors.js';
import { schemasDir } from '../foundation/paths.js';
import { throwIfUnreadable } from '../http/json-body.js';

const ajv = new Ajv2020({ allErrors: true, strict: true });
const readSchema = (file: string) =>
  JSON.parse(readFileSync(path.join(schemasDir, 'api', file), 'utf8')) as object;
const validateLookup = ajv.compile<LookupRequest>(readSchema('lookup-request.schema.json'));
const validateBatch = ajv.compile<{ lookups: unknown[] }>(readSchema('lookup-batch-request.schema.json'));

export function parseLookupRequest(body: unknown): LookupRequest {
  throwIfUnreadable(body);
  if (validateLookup(body)) return body;
  throw invalidInput('The lookup request', describeSchemaErrors(validateLookup.errors));
}

export function parseBatchRequest(body: unknown): unknown[] {
  throwIfUnreadable(body);
  if (validateBatch(body)) return body.lookups;
  throw invalidInput('The batch request', describeSchemaErrors(validateBatch.errors));
}
