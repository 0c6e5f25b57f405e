/**
 * The shared schema catalog: every JSON Schema under `schemas/` (identifiers, Kafka envelopes and the
 * versioned certificate types) read and compiled once at start, then used for every lookup. A broken
 * schema fails start-up naming its file; validation answers in `{pointer, reason}` terms a caller can
 * act on.
 */
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { InvalidParam } from '../foundation/errors.js';
import type { EnvelopeName } from '../protocol/envelopes.js';
import {
  isValidElectronicLicenceId,
  isValidResidentIdNumber,
  isValidUnifiedSocialCreditCode,
} from './identifiers.js';
import { describeSchemaErrors } from './schema-errors.js';
import {
  type CertificateSchemaFile,
  dependencyOrder,
  ENVELOPE_NAMES,
  type JsonObject,
  readCertificateSchemas,
  readSchemaFile,
  SCHEMA_ID_BASE,
  SchemaCatalogError,
  type SchemaFile,
} from './schema-files.js';

export { SchemaCatalogError } from './schema-files.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object, typed wrongly.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export type Verdict = { ok: true } | { ok: false; errors: InvalidParam[] };

export interface CertificateTypeSummary {
  certificateType: string;
  schemaVersions: number[];
  latestVersion: number;
  /** Code of the department that holds the records, e.g. `market-regulation`. */
  provider: string;
  title: { en: string; zh: string };
}

export interface CertificateTypeVersion {
  certificateType: string;
  schemaVersion: number;
  provider: string;
  title: { en: string; zh: string };
  /** The schema file as written. */
  schema: JsonObject;
  /** The same schema with the identifier definitions embedded, so it resolves without our other files. */
  bundledSchema: JsonObject;
  /** Names of the record's top-level fields, in schema order. */
  recordFields: string[];
}

export interface SchemaCatalog {
  /** Every certificate type, sorted by name. */
  list(): CertificateTypeSummary[];
  /** One version of a certificate type (the latest when `schemaVersion` is absent), or undefined. */
  get(certificateType: string, schemaVersion?: number): CertificateTypeVersion | undefined;
  recordFields(certificateType: string, schemaVersion: number): string[] | undefined;
  validateSubject(certificateType: string, schemaVersion: number, subject: unknown): Verdict;
  validateRecord(certificateType: string, schemaVersion: number, record: unknown): Verdict;
  validateEnvelope(name: EnvelopeName, value: unknown): Verdict;
  /** Department codes that provide at least one certificate type, sorted. */
  providers(): string[];
}

interface CompiledVersion extends CertificateTypeVersion {
  subjectValidator: ValidateFunction;
  recordValidator: ValidateFunction;
}

/** Where the identifier definitions go inside a bundled certificate schema. */
const BUNDLED_IDENTIFIERS_KEY = 'silobridge-identifiers';

const X_SILOBRIDGE_META_SCHEMA = {
  type: 'object',
  required: ['certificateType', 'schemaVersion', 'provider', 'title'],
  additionalProperties: false,
  properties: {
    certificateType: { type: 'string' },
    schemaVersion: { type: 'integer', minimum: 1 },
    provider: { type: 'string' },
    title: {
      type: 'object',
      required: ['en', 'zh'],
      additionalProperties: false,
      properties: { en: { type: 'string' }, zh: { type: 'string' } },
    },
  },
};

export function createSchemaAjv(): Ajv2020 {
  // verbose: the error reasons read the failing schema (examples, descriptions) and data.
  const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true });
  addFormats(ajv);
  ajv.addFormat('resident-id-number', {
    type: 'string',
    validate: (value) => isValidResidentIdNumber(value),
  });
  ajv.addFormat('unified-social-credit-code', { type: 'string', validate: isValidUnifiedSocialCreditCode });
  ajv.addFormat('electronic-licence-id', { type: 'string', validate: isValidElectronicLicenceId });
  // An annotation for the catalog (type, version, provider, title); it validates nothing in instances.
  ajv.addKeyword({ keyword: 'x-silobridge', metaSchema: X_SILOBRIDGE_META_SCHEMA });
  return ajv;
}

/**
 * The checks a connector makes with the shared schemas before it answers (the runtime's
 * `validateRequest` and `validateRecord` options): full request envelopes, and found records.
 */
export function connectorSchemaChecks(catalog: Pick<SchemaCatalog, 'validateEnvelope' | 'validateRecord'>) {
  return {
    validateRequest: (value: unknown) => catalog.validateEnvelope('lookup-request', value),
    validateChange: (value: unknown) => catalog.validateEnvelope('record-change', value),
    validateRecord: (certificateType: string, schemaVersion: number, record: unknown) =>
      catalog.validateRecord(certificateType, schemaVersion, record),
  };
}

export async function loadSchemaCatalog(schemasDir: string): Promise<SchemaCatalog> {
  const ajv = createSchemaAjv();
  const identifiers = await readSchemaFile(
    path.join(schemasDir, 'identifiers.schema.json'),
    `${SCHEMA_ID_BASE}identifiers`,
  );
  const envelopes = await Promise.all(
    ENVELOPE_NAMES.map((name) =>
      readSchemaFile(
        path.join(schemasDir, 'envelopes', `${name}.schema.json`),
        `${SCHEMA_ID_BASE}envelopes/${name}`,
      ),
    ),
  );
  const certificates = await readCertificateSchemas(schemasDir);
  // All first, then compile: schemas refer to one another, and ajv resolves references at compile time.
  const files = [identifiers, ...envelopes, ...certificates];
  for (const file of files) addSchema(ajv, file);
  for (const file of dependencyOrder(files)) compileFile(ajv, file);

  const envelopeValidators = new Map<EnvelopeName, ValidateFunction>();
  ENVELOPE_NAMES.forEach((name, i) => {
    const file = envelopes[i] as SchemaFile;
    envelopeValidators.set(name, compile(ajv, file, file.id));
  });

  const types = new Map<string, Map<number, CompiledVersion>>();
  for (const file of certificates) {
    const versions = types.get(file.metadata.certificateType) ?? new Map<number, CompiledVersion>();
    const provider = [...versions.values()][0]?.provider;
    if (provider !== undefined && provider !== file.metadata.provider) {
      throw new SchemaCatalogError(
        file.file,
        `provider "${file.metadata.provider}" differs from earlier versions' "${provider}"`,
      );
    }
    versions.set(file.metadata.schemaVersion, compileCertificate(ajv, file, identifiers.schema));
    types.set(file.metadata.certificateType, versions);
  }
  return createCatalog(types, envelopeValidators);
}

function createCatalog(
  types: Map<string, Map<number, CompiledVersion>>,
  envelopes: Map<EnvelopeName, ValidateFunction>,
): SchemaCatalog {
  const find = (type: string, version?: number): CompiledVersion | undefined => {
    const versions = types.get(type);
    if (!versions) return undefined;
    return versions.get(version ?? Math.max(...versions.keys()));
  };
  const unknown = (type: string, version: number): Verdict => ({
    ok: false,
    errors: [
      { pointer: '', reason: `there is no certificate type '${type}' with schema version ${version}` },
    ],
  });

  return {
    list() {
      return [...types.keys()].sort().map((certificateType) => {
        const versions = [...(types.get(certificateType)?.keys() ?? [])].sort((a, b) => a - b);
        const latest = find(certificateType) as CompiledVersion;
        return {
          certificateType,
          schemaVersions: versions,
          latestVersion: latest.schemaVersion,
          provider: latest.provider,
          title: { ...latest.title },
        };
      });
    },
    get(type, version) {
      const found = find(type, version);
      if (!found) return undefined;
      const { subjectValidator: _subject, recordValidator: _record, ...entry } = found;
      return entry;
    },
    recordFields(type, version) {
      return find(type, version)?.recordFields.slice();
    },
    validateSubject(type, version, subject) {
      const found = find(type, version);
      return found ? run(found.subjectValidator, subject) : unknown(type, version);
    },
    validateRecord(type, version, record) {
      const found = find(type, version);
      return found ? run(found.recordValidator, record) : unknown(type, version);
    },
    validateEnvelope(name, value) {
      const validator = envelopes.get(name);
      if (!validator)
        return { ok: false, errors: [{ pointer: '', reason: `there is no envelope '${name}'` }] };
      return run(validator, value);
    },
    providers() {
      const all = [...types.values()].flatMap((versions) => [...versions.values()].map((v) => v.provider));
      return [...new Set(all)].sort();
    },
  };
}

function compileCertificate(
  ajv: Ajv2020,
  file: CertificateSchemaFile,
  identifiers: JsonObject,
): CompiledVersion {
  const { $schema: _dialect, ...embedded } = identifiers;
  const defs = file.schema.$defs as JsonObject;
  return {
    ...file.metadata,
    schema: file.schema,
    bundledSchema: { ...file.schema, $defs: { ...defs, [BUNDLED_IDENTIFIERS_KEY]: embedded } },
    recordFields: file.recordFields,
    subjectValidator: compile(ajv, file, `${file.id}#/$defs/subject`),
    recordValidator: compile(ajv, file, `${file.id}#/$defs/record`),
  };
}

function addSchema(ajv: Ajv2020, file: SchemaFile): void {
  try {
    ajv.addSchema(file.schema);
  } catch (error) {
    throw new SchemaCatalogError(file.file, (error as Error).message, { cause: error });
  }
}

/** The root and every `$defs` entry, so a mistake in an unused definition is caught at start too. */
function compileFile(ajv: Ajv2020, file: SchemaFile): void {
  compile(ajv, file, file.id);
  const defs = file.schema.$defs;
  for (const name of Object.keys(typeof defs === 'object' && defs !== null ? defs : {})) {
    compile(ajv, file, `${file.id}#/$defs/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`);
  }
}

function compile(ajv: Ajv2020, file: SchemaFile, ref: string): ValidateFunction {
  try {
    const validate = ajv.getSchema(ref);
    if (!validate) throw new Error(`cannot resolve ${ref}`);
    return validate;
  } catch (error) {
    throw new SchemaCatalogError(file.file, (error as Error).message, { cause: error });
  }
}

function run(validator: ValidateFunction, value: unknown): Verdict {
  if (validator(value)) return { ok: true };
  return { ok: false, errors: describeSchemaErrors(validator.errors) };
}
