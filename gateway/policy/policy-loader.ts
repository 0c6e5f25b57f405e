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
import { LineCounter, parseDocument } from 'yaml';
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

function parseSource(
  source: PolicySource,
  problems: PolicyProblem[],
): Omit<ParsedPolicy, 'document'> & { value: unknown } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source.text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  for (const error of doc.errors) {
    problems.push({
      file: source.file,
      line: error.linePos?.[0]?.line,
      message: error.message.split('\n')[0] ?? '',
    });
  }
  const lineAt = (segments: Array<string | number>) => {
    for (let length = segments.length; length >= 0; length -= 1) {
      const node = doc.getIn(segments.slice(0, length), true) as
        | { range?: [number, number, number] }
        | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return { source, lineAt, value: doc.errors.length > 0 ? undefined : doc.toJS({ maxAliasCount: 100 }) };
}

const pointerSegments = (pointer: string) =>
  pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));

export async function compilePolicies(
  sources: PolicySource[],
  options: CompileOptions = {},
): Promise<PolicyLoadResult> {
  const validate = await policyValidator();
  const problems: PolicyProblem[] = [];
  const parsed: ParsedPolicy[] = [];
  for (const source of sources) {
    const { value, lineAt } = parseSource(source, problems);
    if (value === undefined) continue;
    if (value === null) {
      problems.push({ file: source.file, message: 'the file is empty' });
      continue;
    }
    if (!validate(value)) {
      for (const error of validate.errors ?? []) {
        const params = error.params as { missingProperty?: string; additionalProperty?: string };
        const child = params.missingProperty ?? params.additionalProperty;
        const pointer = child === undefined ? error.instancePath : `${error.instancePath}/${child}`;
        problems.push({
          file: source.file,
          line: lineAt(pointerSegments(pointer)),
          pointer: pointer || '/',
          message: params.additionalProperty ? 'is not a known property' : (error.message ?? 'is not valid'),
        });
      }
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
