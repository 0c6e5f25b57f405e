/**
 * Reads the schema files under `schemas/` and checks the catalog's own conventions (file layout, `$id`,
 * `x-silobridge` metadata, `$defs.subject` and `$defs.record`) before ajv sees them, so a mistake in a
 * schema stops start-up with the file's name and what to fix rather than a bare ajv message.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CERTIFICATE_TYPE_PATTERN, DEPARTMENT_CODE_PATTERN } from '../protocol/codes.js';

export const SCHEMA_ID_BASE = 'https://silobridge.dev/schemas/';
export const ENVELOPE_NAMES = ['lookup-request', 'lookup-reply', 'heartbeat', 'record-change'] as const;

const VERSION_FILE = /^([1-9][0-9]{0,3})\.schema\.json$/;

export class SchemaCatalogError extends Error {
  constructor(
    readonly file: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`Invalid schema file ${file}: ${problem}`, options);
    this.name = 'SchemaCatalogError';
  }
}

export type JsonObject = Record<string, unknown>;

export interface SchemaFile {
  file: string;
  id: string;
  schema: JsonObject;
}

export interface CertificateMetadata {
  certificateType: string;
  schemaVersion: number;
  provider: string;
  title: { en: string; zh: string };
}

export interface CertificateSchemaFile extends SchemaFile {
  metadata: CertificateMetadata;
  recordFields: string[];
}

export async function readSchemaFile(file: string, expectedId: string): Promise<SchemaFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new SchemaCatalogError(file, `cannot be read (${(error as Error).message})`, { cause: error });
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new SchemaCatalogError(file, `is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (!isObject(schema)) throw new SchemaCatalogError(file, 'must hold a JSON object');
  if (schema.$id !== expectedId) {
    throw new SchemaCatalogError(file, `"$id" must be "${expectedId}", found ${JSON.stringify(schema.$id)}`);
  }
  return { file, id: expectedId, schema };
}

/** Every `certificates/<type>/<version>.schema.json`; `*.examples.json` beside them are test data. */
export async function readCertificateSchemas(schemasDir: string): Promise<CertificateSchemaFile[]> {
  const root = path.join(schemasDir, 'certificates');
  const found: CertificateSchemaFile[] = [];
  const entries = await readdir(root, { withFileTypes: true }).catch((error: Error) => {
    throw new SchemaCatalogError(root, `cannot be read (${error.message})`, { cause: error });
  });
  for (const entry of entries.sort(byName)) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(root, entry.name);
    if (!CERTIFICATE_TYPE_PATTERN.test(entry.name)) {
      throw new SchemaCatalogError(
        dir,
        'a certificate type folder is named in lower-case letters, digits and -',
      );
    }
    const files = (await readdir(dir)).filter((name) => name.endsWith('.schema.json')).sort();
    if (files.length === 0) throw new SchemaCatalogError(dir, 'holds no <version>.schema.json file');
    for (const name of files) {
      const file = path.join(dir, name);
      const version = VERSION_FILE.exec(name)?.[1];
      if (!version)
        throw new SchemaCatalogError(
          file,
          'a certificate schema is named <version>.schema.json, e.g. 1.schema.json',
        );
      const read = await readSchemaFile(file, `${SCHEMA_ID_BASE}certificates/${entry.name}/${version}`);
      found.push(checkCertificateSchema(read, entry.name, Number(version)));
    }
  }
  return found;
}

function checkCertificateSchema(read: SchemaFile, type: string, version: number): CertificateSchemaFile {
  const fail = (problem: string) => new SchemaCatalogError(read.file, problem);
  const meta = read.schema['x-silobridge'];
  if (!isObject(meta))
    throw fail('needs an "x-silobridge" object (certificateType, schemaVersion, provider, title)');
  if (meta.certificateType !== type)
    throw fail(`"x-silobridge.certificateType" must be "${type}", its folder name`);
  if (meta.schemaVersion !== version)
    throw fail(`"x-silobridge.schemaVersion" must be ${version}, its file name`);
  if (typeof meta.provider !== 'string' || !DEPARTMENT_CODE_PATTERN.test(meta.provider)) {
    throw fail('"x-silobridge.provider" must be a department code such as "market-regulation"');
  }
  const title = meta.title;
  if (!isObject(title) || typeof title.en !== 'string' || typeof title.zh !== 'string') {
    throw fail('"x-silobridge.title" must be {"en": "...", "zh": "..."}');
  }
  const defs = read.schema.$defs;
  if (!isObject(defs) || !isObject(defs.subject) || !isObject(defs.record)) {
    throw fail('needs "$defs.subject" (the lookup identifiers) and "$defs.record" (the record)');
  }
  if (!isObject(defs.record.properties)) throw fail('"$defs.record" must list its fields under "properties"');
  return {
    ...read,
    metadata: {
      certificateType: type,
      schemaVersion: version,
      provider: meta.provider,
      title: { en: title.en, zh: title.zh },
    },
    recordFields: Object.keys(defs.record.properties),
  };
}

/**
 * Files in an order where each comes after the files its `$ref`s point into. ajv compiles a referenced
 * schema when it compiles the first schema that refers to it, so compiling in this order is what makes
 * a compile error belong to the file being compiled rather than to one that merely refers to it.
 */
export function dependencyOrder<T extends SchemaFile>(files: readonly T[]): T[] {
  const byId = new Map(files.map((file) => [file.id, file]));
  const visited = new Set<string>();
  const ordered: T[] = [];
  const visit = (file: T) => {
    if (visited.has(file.id)) return;
    visited.add(file.id);
    for (const id of externalRefs(file.schema)) {
      const dependency = byId.get(id);
      if (dependency) visit(dependency);
    }
    ordered.push(file);
  };
  files.forEach(visit);
  return ordered;
}

function externalRefs(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) externalRefs(item, found);
  } else if (isObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && /^https?:/.test(value))
        found.add(value.split('#')[0] ?? value);
      else externalRefs(value, found);
    }
  }
  return found;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
