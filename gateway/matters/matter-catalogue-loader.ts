/**
 * Reads the matter catalogue: every YAML or JSON file in `<policies folder>/matters/`, each checked
 * against policies/matters/matter-catalogue.schema.json, then what a schema cannot check: matter codes
 * unique across files, evidence ids unique in a matter, certificate types that exist, a type named
 * once per matter, and that each type can be looked up by the identifiers the matter's party gives.
 * Every problem names its file, line and JSON Pointer; one problem anywhere refuses the catalogue, and
 * the gateway does not start.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import { parseDataFile, schemaProblems } from '../foundation/data-files.js';
import { policiesDir } from '../foundation/paths.js';
import { formatPolicyProblem } from '../policy/policy-engine.js';
import type { PolicyProblem } from '../policy/policy-types.js';
import {
  createMatterCatalogue,
  type Matter,
  type MatterCatalogue,
  type MatterCatalogueDocument,
  type MatterDocument,
  PARTY_IDENTIFIERS,
} from './matter-catalogue.js';

export const MATTER_CATALOGUE_SCHEMA_FILE = path.join(policiesDir, 'matters', 'matter-catalogue.schema.json');
const CATALOGUE_FILE = /^[^.].*\.(ya?ml|json)$/;

export type MatterProblem = PolicyProblem;

export class MatterCatalogueError extends Error {
  constructor(
    dir: string,
    readonly problems: MatterProblem[],
  ) {
    super(
      `The matter catalogue in ${dir} is not valid:\n  - ${problems.map(formatPolicyProblem).join('\n  - ')}`,
    );
    this.name = 'MatterCatalogueError';
  }
}

let validatorPromise: Promise<ReturnType<Ajv2020['compile']>> | undefined;
function catalogueValidator() {
  validatorPromise ??= readFile(MATTER_CATALOGUE_SCHEMA_FILE, 'utf8').then((text) =>
    new Ajv2020({ allErrors: true, strict: true }).compile(JSON.parse(text) as object),
  );
  return validatorPromise;
}

export interface CatalogueSource {
  /** Name shown in problems (the file name inside the matters folder). */
  file: string;
  text: string;
}

/** The catalogue of `<policies folder>/matters/`; a folder that does not exist is an empty catalogue. */
export async function loadMatterCatalogue(
  policiesFolder: string,
  catalog: Pick<SchemaCatalog, 'get'>,
): Promise<MatterCatalogue> {
  const dir = path.join(policiesFolder, 'matters');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return createMatterCatalogue([]);
    throw new MatterCatalogueError(dir, [{ file: dir, message: (error as Error).message }]);
  }
  const files = names.filter((name) => CATALOGUE_FILE.test(name) && !name.endsWith('.schema.json')).sort();
  const sources = await Promise.all(
    files.map(async (file) => ({ file, text: await readFile(path.join(dir, file), 'utf8') })),
  );
  const result = await compileMatterCatalogue(sources, catalog);
  if (!result.ok) throw new MatterCatalogueError(dir, result.problems);
  return result.catalogue;
}

export async function compileMatterCatalogue(
  sources: CatalogueSource[],
  catalog: Pick<SchemaCatalog, 'get'>,
): Promise<{ ok: true; catalogue: MatterCatalogue } | { ok: false; problems: MatterProblem[] }> {
  const validate = await catalogueValidator();
  const problems: MatterProblem[] = [];
  const matters: Matter[] = [];
  const seen = new Map<string, string>();
  for (const source of sources) {
    const { value, lineAt } = parseDataFile(source, problems);
    if (value === undefined) continue;
    if (value === null) {
      problems.push({ file: source.file, message: 'the file is empty' });
      continue;
    }
    if (!validate(value)) {
      problems.push(...schemaProblems(source.file, validate.errors, lineAt));
      continue;
    }
    (value as MatterCatalogueDocument).matters.forEach((matter, index) => {
      const report = (at: Array<string | number>, message: string) => {
        const place = ['matters', index, ...at];
        problems.push({ file: source.file, line: lineAt(place), pointer: `/${place.join('/')}`, message });
      };
      const other = seen.get(matter.code);
      if (other) report(['code'], `matter '${matter.code}' is also in ${other}`);
      seen.set(matter.code, source.file);
      matters.push({
        ...matter,
        file: source.file,
        subjectIdentifiers: checkEvidence(matter, catalog, report),
      });
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, catalogue: createMatterCatalogue(matters) };
}

/** Checks a matter's evidence; answers which applicant identifiers make each type's subject. */
function checkEvidence(
  matter: MatterDocument,
  catalog: Pick<SchemaCatalog, 'get'>,
  report: (at: Array<string | number>, message: string) => void,
): Map<string, string[]> {
  const ids = new Set<string>();
  const subjects = new Map<string, string[]>();
  const offered = PARTY_IDENTIFIERS[matter.party];
  matter.evidence.forEach((item, e) => {
    if (ids.has(item.id))
      report(['evidence', e, 'id'], `evidence id '${item.id}' is used twice in this matter`);
    ids.add(item.id);
    item.anyOf.forEach((certificateType, t) => {
      const at = ['evidence', e, 'anyOf', t];
      if (subjects.has(certificateType)) {
        report(at, `'${certificateType}' is named twice in this matter: name it in one evidence item`);
        return;
      }
      const type = catalog.get(certificateType);
      if (!type) {
        report(at, `unknown certificate type '${certificateType}' (not in schemas/certificates)`);
        return;
      }
      const subject = (type.schema.$defs as Record<string, SubjectSchema> | undefined)?.subject ?? {};
      const accepted = Object.keys(subject.properties ?? {});
      const usable = offered.filter((name) => accepted.includes(name)).slice(0, subject.maxProperties);
      const lacking = (subject.required ?? []).filter((name) => !usable.includes(name));
      if (usable.length === 0 || lacking.length > 0) {
        report(
          at,
          `a ${certificateType} is looked up by ${accepted.join(' or ')}, which a ${matter.party} applicant ` +
            `(${offered.join(', ')}) does not give`,
        );
        return;
      }
      subjects.set(certificateType, usable);
    });
  });
  return subjects;
}

interface SubjectSchema {
  properties?: Record<string, unknown>;
  required?: string[];
  maxProperties?: number;
}
