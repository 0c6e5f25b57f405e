import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogRouter } from '../../gateway/catalog/catalog-routes.js';
import { createSchemaAjv, loadSchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { schemasDir } from '../../gateway/foundation/paths.js';
import { createApp } from '../../gateway/http/app.js';

let server: Server;
let base: string;

beforeAll(async () => {
  const catalog = await loadSchemaCatalog(schemasDir);
  const app = createApp({
    logger: createLogger('silent'),
    bodyLimitBytes: 1024,
    routers: [createCatalogRouter(catalog)],
  });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('GET /v1/catalog', () => {
  it('lists the certificate types with versions and providers', async () => {
    const response = await fetch(`${base}/v1/catalog`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as { certificateTypes: Array<Record<string, unknown>> };
    expect(body.certificateTypes).toHaveLength(5);
    expect(body.certificateTypes).toContainEqual({
      certificateType: 'resident-id-card',
      schemaVersions: [1],
      latestVersion: 1,
      provider: 'public-security',
      title: { en: 'Resident identity card', zh: '居民身份证' },
    });
  });
});

describe('GET /v1/catalog/{type}', () => {
  it('serves the latest schema as application/schema+json, usable on its own', async () => {
    const response = await fetch(`${base}/v1/catalog/marriage-certificate`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/schema\+json/);
    const schema = (await response.json()) as Record<string, unknown>;
    expect(schema.$id).toBe('https://silobridge.dev/schemas/certificates/marriage-certificate/1');
    const validate = createSchemaAjv().compile(schema);
    expect(validate({ certificateNumber: 'J350102-2015-000123' })).toBe(false);
  });

  it('serves a version asked for', async () => {
    const response = await fetch(`${base}/v1/catalog/business-licence?version=1`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { $id: string }).$id).toMatch(/business-licence\/1$/);
  });

  it('answers 404 unknown-certificate-type for an unknown type or version', async () => {
    for (const url of ['/v1/catalog/fishing-licence', '/v1/catalog/business-licence?version=9']) {
      const response = await fetch(`${base}${url}`);
      expect(response.status, url).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await response.json()) as { type: string; detail: string };
      expect(problem.type).toBe('https://silobridge.dev/problems/unknown-certificate-type');
      expect(problem.detail).toMatch(
        url.includes('version') ? /no schema version 9; it has 1/ : /no certificate type/,
      );
    }
  });

  it('answers 400 for a version that is not a whole number from 1', async () => {
    for (const version of ['0', 'latest', '1.5', '-1', '']) {
      const response = await fetch(`${base}/v1/catalog/business-licence?version=${version}`);
      expect(response.status, version).toBe(400);
      const problem = (await response.json()) as { type: string; errors: unknown[] };
      expect(problem.type).toBe('https://silobridge.dev/problems/invalid-request');
      expect(problem.errors).toEqual([{ pointer: '/version', reason: 'must be a whole number from 1' }]);
    }
  });
});
