/**
 * The record fields of each certificate type, read from the shared schemas
 * (`schemas/certificates/<type>/<version>.schema.json`, `$defs.record.properties`), so a policy naming
 * a type or a field that does not exist is caught when it is loaded, not when a lookup comes back empty.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Certificate type -> its record fields (over every schema version). */
export type CertificateFields = ReadonlyMap<string, ReadonlySet<string>>;

const VERSION_FILE = /^(\d+)\.schema\.json$/;

async function entries(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Undefined when there are no certificate schemas to check against (the checks are then skipped). */
export async function loadCertificateFields(schemasDir: string): Promise<CertificateFields | undefined> {
  const root = path.join(schemasDir, 'certificates');
  const types = await entries(root);
  if (!types) return undefined;
  const catalog = new Map<string, Set<string>>();
  for (const type of types.sort()) {
    const files = (await entries(path.join(root, type))) ?? [];
    for (const file of files.filter((name) => VERSION_FILE.test(name))) {
      const schema = JSON.parse(await readFile(path.join(root, type, file), 'utf8')) as {
        $defs?: { record?: { properties?: Record<string, unknown> } };
      };
      const fields = catalog.get(type) ?? new Set<string>();
      for (const field of Object.keys(schema.$defs?.record?.properties ?? {})) fields.add(field);
      catalog.set(type, fields);
    }
  }
  return catalog.size > 0 ? catalog : undefined;
}
