/**
 * Checks a connector configuration against the certificate catalog (the shared JSON Schemas): each
 * certificate type exists, is held by this department, has the schema version named; the mapped record
 * fields and subject identifiers are the schema's own; every field the schema requires is mapped.
 * connectors/ cannot import the gateway's catalog, so the caller hands one in: the gateway's
 * SchemaCatalog (loadSchemaCatalog) fits `CatalogView` as it is.
 */
import { type ConfigPath, didYouMean } from './config-problems.js';
import { placeholdersOf } from './path-templates.js';

/** The part of the gateway's SchemaCatalog this check reads. */
export interface CatalogView {
  list(): ReadonlyArray<{ certificateType: string; schemaVersions: readonly number[] }>;
  get(
    certificateType: string,
    schemaVersion?: number,
  ): { provider: string; recordFields: readonly string[]; schema: Record<string, unknown> } | undefined;
}

export interface CatalogMistake {
  path: ConfigPath;
  message: string;
}

/** What the catalog says about one version of a certificate type. */
export interface CertificateShape {
  recordFields: readonly string[];
  requiredFields: string[];
  subjectIdentifiers: string[];
}

export function certificateShape(
  catalog: CatalogView,
  certificateType: string,
  schemaVersion: number,
): CertificateShape | undefined {
  const entry = catalog.get(certificateType, schemaVersion);
  if (!entry) return undefined;
  const defs = asObject(entry.schema.$defs);
  const record = asObject(defs?.record);
  const subject = asObject(defs?.subject);
  return {
    recordFields: entry.recordFields,
    requiredFields: Array.isArray(record?.required) ? record.required.map(String) : [],
    subjectIdentifiers: Object.keys(asObject(subject?.properties) ?? {}),
  };
}

/**
 * Mistakes against the catalog in the raw file content. Parts of the wrong shape are skipped: the
 * schema check has reported them.
 */
export function catalogMistakes(data: unknown, catalog: CatalogView): CatalogMistake[] {
  const mistakes: CatalogMistake[] = [];
  const root = asObject(data);
  const types = asObject(root?.certificateTypes);
  if (!root || !types) return mistakes;
  const department = typeof root.department === 'string' ? root.department : undefined;
  const known = catalog.list().map((entry) => entry.certificateType);

  for (const [type, value] of Object.entries(types)) {
    const at: ConfigPath = ['certificateTypes', type];
    const latest = catalog.get(type);
    if (!latest) {
      mistakes.push({
        path: at,
        message: `unknown certificate type.${didYouMean(type, known)} The catalog has: ${known.join(', ')}.`,
      });
      continue;
    }
    if (department !== undefined && latest.provider !== department) {
      mistakes.push({
        path: at,
        message: `${type} is held by ${latest.provider}, not ${department}: the gateway sends its lookups to ${latest.provider}'s connectors`,
      });
    }
    const entry = asObject(value);
    const version = entry?.schemaVersion;
    if (!entry || typeof version !== 'number' || !Number.isInteger(version)) continue;
    const shape = certificateShape(catalog, type, version);
    if (!shape) {
      const versions = catalog.list().find((listed) => listed.certificateType === type)?.schemaVersions ?? [];
      mistakes.push({
        path: [...at, 'schemaVersion'],
        message: `${type} has schema version${versions.length === 1 ? '' : 's'} ${versions.join(', ')}, not ${version}`,
      });
      continue;
    }
    const named = `${type} version ${version}`;
    const postgres = asObject(entry.postgres);
    if (postgres) {
      const source = [...at, 'postgres'];
      checkFields(mistakes, [...source, 'recordColumns'], postgres.recordColumns, shape, named);
      if (Array.isArray(postgres.requiredFields)) {
        postgres.requiredFields.forEach((field, index) => {
          if (typeof field === 'string' && !shape.recordFields.includes(field)) {
            mistakes.push(noSuchField([...source, 'requiredFields', index], field, shape, named));
          }
        });
      }
      for (const identifier of Object.keys(asObject(postgres.subjectColumns) ?? {})) {
        if (!shape.subjectIdentifiers.includes(identifier)) {
          mistakes.push(noSuchIdentifier([...source, 'subjectColumns', identifier], identifier, shape, type));
        }
      }
    }
    const http = asObject(entry.http);
    if (http) {
      const source = [...at, 'http'];
      const templates =
        typeof http.path === 'string' ? [http.path] : Array.isArray(http.path) ? http.path : [];
      templates.forEach((template, index) => {
        if (typeof template !== 'string') return;
        const where = typeof http.path === 'string' ? [...source, 'path'] : [...source, 'path', index];
        for (const placeholder of placeholdersOf(template)) {
          if (!shape.subjectIdentifiers.includes(placeholder)) {
            mistakes.push(noSuchIdentifier(where, placeholder, shape, type, `{${placeholder}}`));
          }
        }
      });
      const response = asObject(http.response);
      if (response?.fields !== undefined) {
        checkFields(mistakes, [...source, 'response', 'fields'], response.fields, shape, named);
      }
    }
  }
  return mistakes;
}

/** Mapped field names are the schema's, and every field the schema requires is mapped. */
function checkFields(
  mistakes: CatalogMistake[],
  at: ConfigPath,
  mapping: unknown,
  shape: CertificateShape,
  named: string,
): void {
  const fields = asObject(mapping);
  if (!fields) return;
  for (const field of Object.keys(fields)) {
    if (!shape.recordFields.includes(field)) mistakes.push(noSuchField([...at, field], field, shape, named));
  }
  const unmapped = shape.requiredFields.filter((field) => !(field in fields));
  if (unmapped.length > 0) {
    mistakes.push({
      path: at,
      message:
        `maps nothing to ${unmapped.join(', ')}, which ${named} requires: ` +
        'every record found would be refused as invalid',
    });
  }
}

function noSuchField(at: ConfigPath, field: string, shape: CertificateShape, named: string): CatalogMistake {
  return {
    path: at,
    message: `${named} has no field "${field}".${didYouMean(field, shape.recordFields)} Its fields are: ${shape.recordFields.join(', ')}.`,
  };
}

function noSuchIdentifier(
  at: ConfigPath,
  identifier: string,
  shape: CertificateShape,
  type: string,
  shown = `"${identifier}"`,
): CatalogMistake {
  return {
    path: at,
    message: `${type} is not looked up by ${shown}.${didYouMean(identifier, shape.subjectIdentifiers)} Its subject identifiers are: ${shape.subjectIdentifiers.join(', ')}.`,
  };
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
