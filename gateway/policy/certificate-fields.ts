/**
 * The record fields of each certificate type, from the shared schema catalog, so a policy naming a
 * type or a field that does not exist is caught when it is loaded, not when a lookup comes back empty.
 */
import { loadSchemaCatalog, type SchemaCatalog } from '../catalog/schema-catalog.js';

/** Certificate type -> its record fields (over every schema version). */
export type CertificateFields = ReadonlyMap<string, ReadonlySet<string>>;

export function certificateFieldsOf(catalog: SchemaCatalog): CertificateFields {
  const fields = new Map<string, Set<string>>();
  for (const type of catalog.list()) {
    const ofType = new Set<string>();
    for (const version of type.schemaVersions) {
      for (const field of catalog.recordFields(type.certificateType, version) ?? []) ofType.add(field);
    }
    fields.set(type.certificateType, ofType);
  }
  return fields;
}

/** For callers without a catalog at hand (the policy CLI): loads it from the schemas folder. */
export async function loadCertificateFields(schemasDir: string): Promise<CertificateFields> {
  return certificateFieldsOf(await loadSchemaCatalog(schemasDir));
}
