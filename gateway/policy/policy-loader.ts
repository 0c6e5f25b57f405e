/**
 * Reads policy files (YAML or JSON), checks each against policies/policy.schema.json, then what a
 * schema cannot check (`policy-semantics.ts`). Every problem is reported with its file, line and JSON
 * Pointer; one problem anywhere means the whole set is refused.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parseDataFile, schemaProblems } from '../foundation/data-files.js';
import { policiesDir } from '../foundation/paths.js';
import type { CertificateFields } from './certificate-fields.js';
import { checkAcrossFiles, compileDocument, type ParsedPolicy } from './policy-semantics.js';
import type {
  PolicyDocument,
  PolicyFileInfo,
  PolicyLoadResult,
  PolicyProblem,
  PolicySource,
} from './policy-types.js';

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on `.default`.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export const POLICY_SCHEMA_FILE = path.join(policiesDir, 'policy.schema.json');
const POLICY_FILE = /^[^.].*\.(ya?ml|json)$/;

export interface CompileOptions {
  /** Known certificate types and their fields; undefined skips those checks. */
  certificateFields?: CertificateFields;
  now?: () => number;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let validatorPromise: Promise<ReturnType<Ajv2020['compile']>> | undefined;
function policyValidator() {
  validatorPromise ??= readFile(POLICY_SCHEMA_FILE, 'utf8').then((text) => {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(ajv, ['date', 'date-time']);
    return ajv.compile(JSON.parse(text) as object);
  });
  return validatorPromise;
}

/** The policy files of a folder, sorted; `*.schema.json` and dot-files (editor leftovers) are not policies. */
export async function policyFilesIn(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names
    .filter((name) => POLICY_FILE.test(name) && !name.endsWith('.schema.json'))
    .sort()
    .map((name) => path.join(dir, name));
}

export async function readPolicySources(files: string[]): Promise<PolicySource[]> {
  return Promise.all(
    files.map(async (file) => ({ file: path.basename(file), text: await readFile(file, 'utf8') })),
  );
}

export async function loadPolicyDirectory(
  dir: string,
  options: CompileOptions = {},
): Promise<PolicyLoadResult> {
  let sources: PolicySource[];
  try {
    sources = await readPolicySources(await policyFilesIn(dir));
  } catch (error) {
    return {
      ok: false,
      problems: [{ file: dir, message: `cannot read the policies: ${(error as Error).message}` }],
    };
  }
  return compilePolicies(sources, options);
}

export async function compilePolicies(
  sources: PolicySource[],
  options: CompileOptions = {},
): Promise<PolicyLoadResult> {
  const validate = await policyValidator();
  const problems: PolicyProblem[] = [];
  const parsed: ParsedPolicy[] = [];
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
    parsed.push({ source, document: value as PolicyDocument, lineAt });
  }
  const compiled = parsed.map((entry) => compileDocument(entry, options, problems));
  checkAcrossFiles(parsed, compiled, problems);
  if (problems.length > 0) return { ok: false, problems };

  const files: PolicyFileInfo[] = parsed.map(({ source, document }) => ({
    file: source.file,
    sha256: sha256(source.text),
    policyId: document.id,
  }));
  return {
    ok: true,
    set: {
      revision: sha256(files.map((f) => `${f.file}\0${f.sha256}`).join('\n')).slice(0, 16),
      loadedAt: new Date(options.now?.() ?? Date.now()).toISOString(),
      files,
      policies: compiled.map((c) => c.policy),
      grants: compiled.flatMap((c) => c.grants),
    },
  };
}
