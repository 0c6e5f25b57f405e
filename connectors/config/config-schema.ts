/**
 * Checks a connector configuration against `schemas/connector-config.schema.json` (ajv, draft 2020-12)
 * and turns ajv's errors into one message per mistake, in the file's terms: an unknown key is a typo
 * (with the nearest known key), a missing setting says what it holds, a wrong value says what is
 * expected (the schema's `x-expected` phrase) and what was found.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { type ConfigPath, type ConfigProblem, describeValue, didYouMean } from './config-problems.js';
import type { ConfigSource } from './config-source.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object, typed wrongly.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const SCHEMA_FILE = path.join('schemas', 'connector-config.schema.json');

type Schema = Record<string, unknown>;

/** The schema file, found above this module (from the sources and from the compiled `dist/` alike). */
export function connectorConfigSchemaFile(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, SCHEMA_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${SCHEMA_FILE} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

interface Compiled {
  root: Schema;
  validate: ValidateFunction;
  /** The validator of alternative `index` of the `oneOf` in `parentSchema` (an object of `root`). */
  alternative(parentSchema: unknown, index: number): ValidateFunction;
}

let compiled: Compiled | undefined;

function compile(): Compiled {
  if (compiled) return compiled;
  const file = connectorConfigSchemaFile();
  const root = JSON.parse(readFileSync(file, 'utf8')) as Schema;
  // verbose: messages read the failing schema's `x-expected` and the value found. strictRequired off:
  // `oneOf: [{ required: [postgres] }, { required: [http] }]` names properties defined beside it.
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, verbose: true });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  const validate = ajv.compile(root);
  const id = String(root.$id);
  const pointers = schemaPointers(root);
  compiled = {
    root,
    validate,
    alternative(parentSchema, index) {
      const pointer = pointers.get(parentSchema);
      const found = pointer === undefined ? undefined : ajv.getSchema(`${id}#${pointer}/oneOf/${index}`);
      if (!found) throw new Error(`${file}: cannot find the oneOf alternatives of a schema`);
      return found;
    },
  };
  return compiled;
}

/** Every mistake the schema finds, or none. */
export function schemaProblems(source: ConfigSource): ConfigProblem[] {
  const schema = compile();
  if (schema.validate(source.data)) return [];
  const errors = withoutLosingAlternatives(schema.validate.errors ?? [], schema);
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const mistake = describe(error, schema.root, source.data);
    if (!mistake) continue;
    const problem = source.problem(mistake.path, mistake.message);
    const key = `${problem.path}\n${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

/**
 * ajv reports a failed `oneOf` with the errors of every alternative, just before the `oneOf` error
 * itself. Keep the alternative the value was evidently meant to be (the only one whose own type and
 * required keys fit) and drop the others; when none or several fit, the `oneOf` error alone says what
 * the choices are. Each alternative is validated again on its own to tell its errors apart: errors
 * reached through a `$ref` do not name the alternative they came from.
 */
function withoutLosingAlternatives(errors: ErrorObject[], schema: Compiled): ErrorObject[] {
  const kept: ErrorObject[] = [];
  for (const error of errors) {
    if (error.keyword !== 'oneOf' || !Array.isArray(error.schema)) {
      kept.push(error);
      continue;
    }
    const alternatives = error.schema.map((_, index) => {
      const validate = schema.alternative(error.parentSchema, index);
      if (validate(error.data)) return [];
      return (validate.errors ?? []).map((inner) => ({
        ...inner,
        instancePath: `${error.instancePath}${inner.instancePath}`,
      }));
    });
    // Those errors are the ones ajv reported just before this one.
    kept.splice(Math.max(0, kept.length - alternatives.flat().length));
    const fitting = alternatives.filter(
      (alternative) =>
        alternative.length > 0 &&
        !alternative.some(
          (inner) =>
            inner.instancePath === error.instancePath &&
            (inner.keyword === 'type' || inner.keyword === 'required'),
        ),
    );
    const [only] = fitting;
    if (fitting.length === 1 && only) kept.push(...withoutLosingAlternatives(only, schema));
    else kept.push(error);
  }
  return kept;
}

function describe(
  error: ErrorObject,
  root: Schema,
  data: unknown,
): { path: ConfigPath; message: string } | undefined {
  const at = toConfigPath(error.instancePath, data);
  const parent = (error.parentSchema ?? {}) as Schema;
  const found = error.data;
  const params = error.params as Record<string, unknown>;
  const expected = expectedOf(parent, root);
  const notFound = `, not ${describeValue(found)}`;

  // The property name failed its pattern: the key itself is the mistake (the wrapping propertyNames
  // error says the same in general terms and is skipped).
  const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;
  if (propertyName !== undefined) {
    return { path: [...at, propertyName], message: `is not a valid name here: use ${expected}` };
  }
  switch (error.keyword) {
    case 'propertyNames':
      return undefined;
    case 'required': {
      const missing = String(params.missingProperty);
      const property = (parent.properties as Record<string, Schema> | undefined)?.[missing];
      const what = property ? describeSetting(property, root) : '';
      return { path: [...at, missing], message: `is missing${what ? `: ${what}` : ''}` };
    }
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((parent.properties as Record<string, unknown> | undefined) ?? {}).filter(
        (name) => name !== '$schema',
      );
      return {
        path: [...at, key],
        message: `unknown setting.${didYouMean(key, known)} The settings here are: ${known.join(', ')}.`,
      };
    }
    case 'oneOf': {
      const choices = requiredChoices(error.schema);
      if (choices) {
        const present = choices.filter((key) => typeof found === 'object' && found !== null && key in found);
        return {
          path: at,
          message:
            present.length > 1
              ? `has both ${present.join(' and ')}: give exactly one of ${choices.join(' or ')}`
              : `needs exactly one of ${choices.join(' or ')}`,
        };
      }
      return { path: at, message: `must be ${expected}${notFound}` };
    }
    case 'uniqueItems':
      return {
        path: at,
        message: `lists ${describeValue((found as unknown[])[Number(params.j)])} twice; each may appear once`,
      };
    case 'minLength':
      if (params.limit === 1) return { path: at, message: `must not be empty: use ${expected}` };
      return { path: at, message: `must be ${expected}${notFound}` };
    case 'minProperties':
    case 'minItems':
      return { path: at, message: `must be ${expected}, not ${describeValue(found)}` };
    default:
      // type, pattern, format, minimum, maximum, minLength, enum ...: the value is wrong.
      return { path: at, message: `must be ${expected}${notFound}` };
  }
}

/** What a setting holds, for "is missing: ...": the expected value, else its title. */
function describeSetting(schema: Schema, root: Schema): string {
  const expected = expectedOf(schema, root);
  if (typeof schema.title !== 'string' || hasOwnPhrase(schema, root)) return expected;
  return `${schema.title.toLowerCase()}, ${expected}`;
}

function hasOwnPhrase(schema: Schema, root: Schema): boolean {
  return (
    typeof schema['x-expected'] === 'string' || typeof resolveRef(schema, root)?.['x-expected'] === 'string'
  );
}

function resolveRef(schema: Schema, root: Schema): Schema | undefined {
  if (typeof schema.$ref !== 'string' || !schema.$ref.startsWith('#/')) return undefined;
  return schema.$ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, key) => (node as Schema | undefined)?.[key], root) as Schema | undefined;
}

/** The `x-expected` phrase of a schema (following local `$ref`s), else one made from its type. */
function expectedOf(schema: Schema, root: Schema): string {
  const own = schema['x-expected'];
  if (typeof own === 'string') return own;
  const target = resolveRef(schema, root);
  if (target) return expectedOf(target, root);
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.join(', ')}`;
  switch (schema.type) {
    case 'string':
      return 'a text';
    case 'integer':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
      return 'a map of settings';
    default:
      return 'a valid value';
  }
}

/** For `oneOf: [{type: object, required: [a]}, {type: object, required: [b]}]`, the keys [a, b]. */
function requiredChoices(oneOf: unknown): string[] | undefined {
  if (!Array.isArray(oneOf)) return undefined;
  const keys = oneOf.map((branch: Schema) =>
    Object.keys(branch).every((keyword) => keyword === 'type' || keyword === 'required') &&
    Array.isArray(branch.required) &&
    branch.required.length === 1
      ? String(branch.required[0])
      : undefined,
  );
  return keys.every((key) => key !== undefined) ? (keys as string[]) : undefined;
}

/**
 * Every object of the schema file -> its JSON pointer. An error's `schemaPath` is relative to the
 * schema a `$ref` led to, not to the file; its `parentSchema` is the file's own object.
 */
function schemaPointers(root: Schema): Map<unknown, string> {
  const pointers = new Map<unknown, string>();
  const visit = (node: unknown, pointer: string) => {
    if (typeof node !== 'object' || node === null) return;
    pointers.set(node, pointer);
    for (const [key, child] of Object.entries(node)) {
      visit(child, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
    }
  };
  visit(root, '');
  return pointers;
}

/** `/certificateTypes/business-licence/path/0` -> the keys, with list positions as numbers. */
function toConfigPath(pointer: string, data: unknown): ConfigPath {
  if (pointer === '') return [];
  const segments: (string | number)[] = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    const segment = Array.isArray(node) ? Number(key) : key;
    segments.push(segment);
    node = (node as Record<string | number, unknown> | undefined)?.[segment];
  }
  return segments;
}
