/**
 * The certificate catalog over HTTP: which certificate types exist, in which schema versions, and which
 * department provides each (`GET /v1/catalog`), and the JSON Schema of one of them
 * (`GET /v1/catalog/{type}?version=N`), so approval systems know what they may ask for and what a
 * record looks like. Served schemas embed the identifier definitions they refer to, so they can be
 * used as they are, without fetching our other schema files.
 */
import express from 'express';
import { BadRequestError, NotFoundError } from '../foundation/errors.js';
import type { SchemaCatalog } from './schema-catalog.js';

const SCHEMA_CONTENT_TYPE = 'application/schema+json';
const VERSION_PARAMETER = /^[1-9][0-9]{0,3}$/;

export function createCatalogRouter(catalog: SchemaCatalog): express.Router {
  const router = express.Router();

  router.get('/v1/catalog', (_req, res) => {
    res.json({ certificateTypes: catalog.list() });
  });

  router.get('/v1/catalog/:type', (req, res) => {
    const type = req.params.type;
    const version = parseVersion(req.query.version);
    const entry = catalog.get(type, version);
    if (!entry) {
      const known = catalog.list().find((summary) => summary.certificateType === type);
      throw new NotFoundError(
        known
          ? `Certificate type '${type}' has no schema version ${version}; it has ${known.schemaVersions.join(', ')}.`
          : `There is no certificate type '${type.slice(0, 100)}'; GET /v1/catalog lists them.`,
        'unknown-certificate-type',
      );
    }
    res.type(SCHEMA_CONTENT_TYPE).send(JSON.stringify(entry.bundledSchema));
  });

  return router;
}

function parseVersion(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && VERSION_PARAMETER.test(value)) return Number(value);
  throw new BadRequestError('The version query parameter must be a schema version, a whole number from 1.', [
    { pointer: '/version', reason: 'must be a whole number from 1' },
  ]);
}
