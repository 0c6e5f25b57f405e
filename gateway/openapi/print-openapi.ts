/**
 * Writes the OpenAPI document to a file (or stdout without one), exactly as GET /openapi.json serves
 * it, for linting and viewing offline:
 *   node --import tsx gateway/openapi/print-openapi.ts dist/openapi.json && npx redocly lint dist/openapi.json
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadSchemaCatalog } from '../catalog/schema-catalog.js';
import { schemasDir } from '../foundation/paths.js';
import { buildOpenApiDocument } from './openapi-document.js';

const text = `${JSON.stringify(await buildOpenApiDocument(await loadSchemaCatalog(schemasDir)), null, 2)}\n`;
const file = process.argv[2];
if (file) {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, text);
} else process.stdout.write(text);
