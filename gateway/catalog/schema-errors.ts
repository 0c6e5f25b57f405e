/**
 * Turns ajv's errors into the `{pointer, reason}` pairs callers see in problem JSON. Reasons are meant
 * for the officer or developer who has to fix the input, so they name the identifier standard, list
 * allowed values, and never echo the (personal) value that was rejected. Needs ajv's `verbose: true`,
 * which gives each error its schema and data.
 */
import type { ErrorObject } from 'ajv';
import type { InvalidParam } from '../foundation/errors.js';
import {
  electronicLicenceIdProblem,
  residentIdNumberProblem,
  unifiedSocialCreditCodeProblem,
} from './identifiers.js';

interface IdentifierFormat {
  description: string;
  problem: (value: string) => string | undefined;
}

const IDENTIFIER_FORMATS: Record<string, IdentifierFormat> = {
  'resident-id-number': {
    description: 'must be a resident ID number (GB 11643-1999) with a valid check character',
    problem: (value) => residentIdNumberProblem(value),
  },
  'unified-social-credit-code': {
    description: 'must be a unified social credit code (GB 32100-2015) with a valid check character',
    problem: unifiedSocialCreditCodeProblem,
  },
  'electronic-licence-id': {
    description: 'must be an electronic licence identifier (GB/T 36904-2018) with a valid check character',
    problem: electronicLicenceIdProblem,
  },
};

const FORMAT_REASONS: Record<string, string> = {
  date: 'must be a calendar date written YYYY-MM-DD',
  'date-time': 'must be an RFC 3339 date-time with a time zone, e.g. 2026-11-27T08:00:00Z',
  uuid: 'must be a UUID',
};

const ARTICLES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

type SchemaObject = Record<string, unknown>;

export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): InvalidParam[] {
  const all = errors ?? [];
  // A failed oneOf is reported once, as "exactly one of ...", not as every branch's own complaint.
  const oneOfPaths = all.filter((error) => error.keyword === 'oneOf').map((error) => `${error.schemaPath}/`);
  const seen = new Set<string>();
  const described: InvalidParam[] = [];
  for (const error of all) {
    // `if` only says "must match then"; the `then` errors beside it say what is actually wrong.
    if (error.keyword === 'if' || error.propertyName !== undefined) continue;
    if (oneOfPaths.some((path) => error.schemaPath.startsWith(path))) continue;
    const param = describe(error);
    const key = `${param.pointer}\n${param.reason}`;
    if (seen.has(key)) continue;
    seen.add(key);
    described.push(param);
  }
  return described;
}

function describe(error: ErrorObject): InvalidParam {
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as SchemaObject;
  const at = error.instancePath;
  switch (error.keyword) {
    case 'required':
      return { pointer: child(at, params.missingProperty), reason: 'is required' };
    case 'additionalProperties':
      return { pointer: child(at, params.additionalProperty), reason: 'is not a known property' };
    case 'propertyNames':
      return { pointer: child(at, params.propertyName), reason: 'is not an allowed property name' };
    case 'format':
      return { pointer: at, reason: formatReason(String(params.format), error.data) };
    case 'enum':
      return {
        pointer: at,
        reason: `must be one of: ${(params.allowedValues as unknown[]).map(show).join(', ')}`,
      };
    case 'const':
      return { pointer: at, reason: `must be ${show(params.allowedValue)}` };
    case 'type':
      return { pointer: at, reason: `must be ${typeWords(params.type)}` };
    case 'pattern': {
      const example = Array.isArray(parent.examples) ? parent.examples[0] : undefined;
      return {
        pointer: at,
        reason:
          example === undefined
            ? `must match ${String(params.pattern)}`
            : `must be written like ${show(example)}`,
      };
    }
    case 'minProperties':
    case 'maxProperties':
      return { pointer: at, reason: propertyCountReason(error.keyword, Number(params.limit), parent) };
    case 'oneOf':
      return { pointer: at, reason: oneOfReason(parent, params.passingSchemas) };
    case 'not':
      return {
        pointer: at,
        reason:
          typeof parent.description === 'string'
            ? `is not allowed: ${parent.description}`
            : 'is not allowed here',
      };
    case 'false schema':
      return { pointer: at, reason: 'is not allowed here' };
    default:
      return { pointer: at, reason: (error.message ?? 'is not valid').replace('must NOT', 'must not') };
  }
}

function formatReason(format: string, data: unknown): string {
  const identifier = IDENTIFIER_FORMATS[format];
  if (identifier) {
    const problem = typeof data === 'string' ? identifier.problem(data) : undefined;
    return problem ? `${identifier.description}: ${problem}` : identifier.description;
  }
  return FORMAT_REASONS[format] ?? `must be a valid ${format}`;
}

/** For "exactly one identifier" objects: a closed set of properties with min/maxProperties 1. */
function propertyCountReason(keyword: string, limit: number, parent: SchemaObject): string {
  const names = Object.keys((parent.properties ?? {}) as SchemaObject);
  const closed = parent.additionalProperties === false && names.length > 0;
  if (keyword === 'minProperties') {
    if (closed && limit === 1) return `must give one of: ${names.join(', ')}`;
    return `must have at least ${limit} ${limit === 1 ? 'property' : 'properties'}`;
  }
  if (closed && limit === 1) return `must give only one of: ${names.join(', ')}`;
  return `must have at most ${limit} ${limit === 1 ? 'property' : 'properties'}`;
}

/** oneOf branches that only require a property read as "exactly one of these properties". */
function oneOfReason(parent: SchemaObject, passing: unknown): string {
  const branches = Array.isArray(parent.oneOf) ? (parent.oneOf as SchemaObject[]) : [];
  const names = branches.flatMap((branch) =>
    Array.isArray(branch.required) ? (branch.required as string[]) : [],
  );
  if (names.length === 0) return 'must match exactly one of the allowed forms';
  return Array.isArray(passing)
    ? `must have only one of: ${names.join(', ')}`
    : `must have one of: ${names.join(', ')}`;
}

function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? type : String(type).split(',');
  return types.map((name) => ARTICLES[String(name)] ?? String(name)).join(' or ');
}

/** A child JSON Pointer (RFC 6901: `~` and `/` escaped in the new token). */
function child(pointer: string, token: unknown): string {
  return `${pointer}/${String(token).replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
