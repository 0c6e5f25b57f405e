/**
 * The JSON Schemas the gateway validates with, as OpenAPI components: the same files under `schemas/`
 * (lookup requests, identifiers, every certificate type's version), read when the document is built,
 * never copied. Each file keeps its content; only what an OpenAPI tool cannot follow changes:
 * `$id` and `$schema` go (the document's dialect is 2020-12 already), and every `$ref` becomes a
 * pointer into `#/components/schemas`, because linters and viewers resolve references by location,
 * not by `$id`. The identifiers file is only a set of `$defs`: each becomes a component of its own
 * (`identifiers.residentIdNumber`). A reference to a file that is not here fails the build, so a new
 * schema cannot silently leave the document.
 */
import path from 'node:path';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import { isObject, type JsonObject, readSchemaFile, SCHEMA_ID_BASE } from '../catalog/schema-files.js';

/** One certificate type in one schema version, with the component names of its parts. */
export interface CertificateComponent {
  certificateType: string;
  schemaVersion: number;
  provider: string;
  title: { en: string; zh: string };
  /** `#/components/schemas/...` pointers. */
  record: string;
  subject: string;
}

export interface SharedSchemas {
  /** Component name to schema, ready for `components.schemas`. */
  components: Record<string, JsonObject>;
  lookupRequest: string;
  lookupBatchRequest: string;
  certificates: CertificateComponent[];
}

/** The API request bodies under schemas/api/ (file name without `.schema.json`). */
const API_SCHEMAS = { lookupRequest: 'lookup-request', lookupBatchRequest: 'lookup-batch-request' } as const;

const componentRef = (name: string, fragment = '') => `#/components/schemas/${name}${fragment}`;

/** Files that are only `$defs` (no schema at their root): one component per definition. */
const SPLIT_FILES = new Set(['identifiers']);

export function certificateComponentName(certificateType: string, schemaVersion: number): string {
  return `certificate.${certificateType}.v${schemaVersion}`;
}

/** The schema with its `$ref`s pointing into the document; `names` maps `$id` to component name. */
function rewriteReferences(
  value: unknown,
  own: string,
  names: ReadonlyMap<string, string>,
  where: string,
): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteReferences(item, own, names, where));
  if (!isObject(value)) return value;
  const copy: JsonObject = {};
  for (const [key, member] of Object.entries(value)) {
    if (key === '$ref' && typeof member === 'string') copy[key] = pointerFor(member, own, names, where);
    else copy[key] = rewriteReferences(member, own, names, where);
  }
  return copy;
}

function pointerFor(ref: string, own: string, names: ReadonlyMap<string, string>, where: string): string {
  const hash = ref.indexOf('#');
  const target = hash === -1 ? ref : ref.slice(0, hash);
  const fragment = hash === -1 ? '' : ref.slice(hash + 1);
  const name = target === '' ? own : names.get(target);
  if (name === undefined) throw new Error(`${where}: $ref ${ref} names a schema the OpenAPI document lacks`);
  const definition = /^\/\$defs\/([^/]+)(.*)$/.exec(fragment);
  if (SPLIT_FILES.has(name) && definition) return componentRef(`${name}.${definition[1]}`, definition[2]);
  return componentRef(name, fragment);
}

function asComponent(
  schema: JsonObject,
  own: string,
  names: ReadonlyMap<string, string>,
  where: string,
): JsonObject {
  const { $id: _id, $schema: _dialect, ...rest } = schema;
  return rewriteReferences(rest, own, names, where) as JsonObject;
}

export async function loadSharedSchemas(catalog: SchemaCatalog, schemasDir: string): Promise<SharedSchemas> {
  const files: Array<{ name: string; id: string; schema: JsonObject; where: string }> = [];
  const identifiers = await readSchemaFile(
    path.join(schemasDir, 'identifiers.schema.json'),
    `${SCHEMA_ID_BASE}identifiers`,
  );
  files.push({
    name: 'identifiers',
    id: identifiers.id,
    schema: identifiers.schema,
    where: identifiers.file,
  });
  for (const file of Object.values(API_SCHEMAS)) {
    const read = await readSchemaFile(
      path.join(schemasDir, 'api', `${file}.schema.json`),
      `${SCHEMA_ID_BASE}api/${file}`,
    );
    files.push({ name: file, id: read.id, schema: read.schema, where: read.file });
  }
  const certificates: CertificateComponent[] = [];
  for (const summary of catalog.list()) {
    for (const version of summary.schemaVersions) {
      const entry = catalog.get(summary.certificateType, version);
      if (!entry) continue;
      const name = certificateComponentName(entry.certificateType, entry.schemaVersion);
      files.push({
        name,
        id: String(entry.schema.$id),
        schema: entry.schema,
        where: `certificate type ${entry.certificateType} v${entry.schemaVersion}`,
      });
      certificates.push({
        certificateType: entry.certificateType,
        schemaVersion: entry.schemaVersion,
        provider: entry.provider,
        title: entry.title,
        record: componentRef(name, '/$defs/record'),
        subject: componentRef(name, '/$defs/subject'),
      });
    }
  }
  const names = new Map(files.map((file) => [file.id, file.name]));
  const components: Record<string, JsonObject> = {};
  for (const file of files) {
    const component = asComponent(file.schema, file.name, names, file.where);
    if (!SPLIT_FILES.has(file.name)) {
      components[file.name] = component;
      continue;
    }
    for (const [definition, schema] of Object.entries(isObject(component.$defs) ? component.$defs : {})) {
      components[`${file.name}.${definition}`] = schema as JsonObject;
    }
  }
  return {
    components,
    lookupRequest: componentRef(API_SCHEMAS.lookupRequest),
    lookupBatchRequest: componentRef(API_SCHEMAS.lookupBatchRequest),
    certificates,
  };
}
