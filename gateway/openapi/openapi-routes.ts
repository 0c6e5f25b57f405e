/**
 * GET /openapi.json: the OpenAPI 3.1 description of this gateway's HTTP API, for anyone (it holds no
 * data, only the API's shape). Built on the first request from the schema catalog the gateway runs
 * with, then served from memory.
 */
import { Router } from 'express';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import { buildOpenApiDocument } from './openapi-document.js';

export const OPENAPI_PATH = '/openapi.json';

export interface OpenApiRouterOptions {
  catalog: SchemaCatalog;
}

export function createOpenApiRouter(options: OpenApiRouterOptions): Router {
  let document: Promise<string> | undefined;
  const router = Router();
  router.get(OPENAPI_PATH, async (_req, res) => {
    document ??= buildOpenApiDocument(options.catalog).then((built) => JSON.stringify(built));
    const text = await document.catch((error: unknown) => {
      document = undefined; // a failed build is retried on the next request
      throw error;
    });
    res.set('Cache-Control', 'public, max-age=300').type('application/json').send(text);
  });
  return router;
}
