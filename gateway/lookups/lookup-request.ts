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
import type { CertificateTypeVersion, SchemaCatalog } from '../catalog/schema-catalog.js';
import { describeSchemaErrors } from '../catalog/schema-errors.js';
import { BadRequestError, invalidInput } from '../foundation/errors.js';
import { schemasDir } from '../foundation/paths.js';
import { throwIfUnreadable } from '../http/json-body.js';

const ajv = new Ajv2020({ allErrors: true, strict: true });
const readSchema = (file: string) =>
  JSON.parse(readFileSync(path.join(schemasDir, 'api', file), 'utf8')) as object;
/** schemas/api/lookup-request.schema.json: other requests that name a record the same way reuse its parts. */
export const LOOKUP_REQUEST_SCHEMA = readSchema('lookup-request.schema.json') as {
  required: string[];
  properties: Record<string, object>;
};
const validateLookup = ajv.compile<LookupRequest>(LOOKUP_REQUEST_SCHEMA);
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

/** What checking a request against the shared schemas needs (gateway/catalog's SchemaCatalog is one). */
export interface RequestCatalog {
  get(certificateType: string): Pick<CertificateTypeVersion, 'provider' | 'schemaVersion'> | undefined;
  recordFields: SchemaCatalog['recordFields'];
  validateSubject: SchemaCatalog['validateSubject'];
}

/**
 * Checks the certificate type, the subject (against the type's subject schema, check characters
 * included) and the fields asked for; answers the type's provider department and schema version, or
 * throws a 400 naming what is wrong. For lookups and change subscriptions alike.
 */
export function checkAgainstCatalog(
  catalog: RequestCatalog,
  request: LookupRequest,
): { provider: string; schemaVersion: number } {
  const type = catalog.get(request.certificateType);
  if (!type) {
    throw new BadRequestError(
      `Unknown certificate type '${request.certificateType}'; GET /v1/catalog lists the types.`,
      [{ pointer: '/certificateType', reason: 'unknown certificate type' }],
      'unknown-certificate-type',
    );
  }
  const subject = catalog.validateSubject(request.certificateType, type.schemaVersion, request.subject);
  if (!subject.ok) {
    throw new BadRequestError(
      `The subject does not identify a ${request.certificateType}: ${subject.errors.map((e) => e.reason).join('; ')}`,
      subject.errors.map((e) => ({ pointer: `/subject${e.pointer}`, reason: e.reason })),
      'invalid-subject',
    );
  }
  const known = new Set(catalog.recordFields(request.certificateType, type.schemaVersion));
  const unknown = (request.fields ?? []).filter((field) => !known.has(field));
  if (unknown.length > 0) {
    throw new BadRequestError(
      `Unknown field(s) for ${request.certificateType}: ${unknown.join(', ')}.`,
      unknown.map((field) => ({
        pointer: `/fields/${request.fields?.indexOf(field)}`,
        reason: `no field '${field}'`,
      })),
      'unknown-field',
    );
  }
  return { provider: type.provider, schemaVersion: type.schemaVersion };
}
