/**
 * How one operation of the document is written: who may call it (security schemes, `x-required-roles`
 * and a sentence), its parameters and body, its answers, and the problem types (RFC 9457) it can
 * answer with, by status. The problems every route shares are added here once, from the same
 * constants the gateway throws with, so an operation lists only its own.
 */
import type { Role } from '../access/caller.js';
import { PROBLEM_TYPE_BASE } from '../foundation/errors.js';
import { PROBLEM_CONTENT_TYPE } from '../http/problem.js';
import { TOKEN_PROBLEMS } from '../identity/token-errors.js';

export type JsonObject = Record<string, unknown>;

/**
 * Who may call: nobody needs to sign in (`public`), any registered system (`any`), or a system holding
 * one of `roles`; `self` names who else may (the system itself, its own department) and `note` narrows a
 * role (its own department only), in words.
 */
export type Access = 'public' | 'any' | { roles: readonly Role[]; self?: string; note?: string };

export interface OperationSpec {
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  parameters?: JsonObject[];
  /** A JSON request body's schema (every body the gateway reads is JSON). */
  body?: JsonObject;
  bodyRequired?: boolean;
  /** Successful answers: status to response object. */
  responses: Record<string, JsonObject>;
  /** The route's own problem types by status (names, without the base URI). */
  problems?: Record<number, readonly string[]>;
  /** It records an audit event before it answers: it fails closed (503) when the log cannot record. */
  audited?: boolean;
}

export const BEARER = 'bearerJwt';
export const CONSOLE_SESSION = 'consoleSession';
export const CONSOLE_CSRF = 'consoleCsrfToken';

/** Problems of a JSON body, checked for every route before it sees the body (docs/http-api.md). */
const BODY_PROBLEMS: Record<number, readonly string[]> = {
  400: ['malformed-json', 'json-too-deep', 'unsupported-character', 'invalid-content-encoding'],
  413: ['payload-too-large'],
  415: ['unsupported-media-type', 'unsupported-content-encoding'],
};

const STATUS_TEXT: Record<number, string> = {
  400: 'The request is not valid',
  401: 'Authentication failed',
  403: 'Access denied',
  404: 'Not found',
  409: 'Conflict with what exists',
  413: 'The request body is too large',
  415: 'Unsupported media type or encoding',
  429: 'Too many requests',
  500: 'The gateway failed (a bug; quote the request id)',
  502: 'The provider answered with something unusable',
  503: 'Service unavailable',
  504: 'The provider did not answer in time',
};

const PROBLEM_HEADERS: Record<number, JsonObject> = {
  401: {
    'WWW-Authenticate': {
      description:
        'RFC 6750: `Bearer realm="silobridge"`, with `error="invalid_token"` and a description when a token was refused.',
      schema: { type: 'string' },
    },
  },
  415: {
    'Accept-Encoding': {
      description: 'On `unsupported-content-encoding`: the content codings the gateway decodes.',
      schema: { type: 'string' },
    },
  },
  429: {
    'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } },
  },
};

const tick = (name: string) => `\`${name}\``;

function problemResponse(status: number, types: readonly string[]): JsonObject {
  const unique = [...new Set(types)];
  return {
    description: `${STATUS_TEXT[status] ?? 'Problem'}: ${unique.map(tick).join(', ')}.`,
    ...(PROBLEM_HEADERS[status] ? { headers: PROBLEM_HEADERS[status] } : {}),
    content: {
      [PROBLEM_CONTENT_TYPE]: {
        schema: {
          allOf: [
            { $ref: '#/components/schemas/Problem' },
            {
              type: 'object',
              properties: { type: { enum: unique.map((name) => PROBLEM_TYPE_BASE + name) } },
            },
          ],
        },
      },
    },
  };
}

const UNAUTHENTICATED = [...TOKEN_PROBLEMS, 'console-session-ended'];

function accessProblems(access: Access): Record<number, readonly string[]> {
  if (access === 'public') return {};
  // A console session can also be over, or be used without its anti-CSRF header or cross-site.
  const refused = ['console-csrf-rejected', 'console-cross-site', 'console-session-not-allowed'];
  if (access === 'any') return { 401: UNAUTHENTICATED, 403: refused };
  return { 401: UNAUTHENTICATED, 403: ['missing-role', ...refused] };
}

/** Problem answers many operations share word for word: written once, under components.responses. */
const SHARED: Array<{ name: string; status: number; types: readonly string[] }> = [
  { name: 'Unauthenticated', status: 401, types: UNAUTHENTICATED },
  {
    name: 'Refused',
    status: 403,
    types: ['missing-role', 'console-csrf-rejected', 'console-cross-site', 'console-session-not-allowed'],
  },
  { name: 'InternalError', status: 500, types: ['internal-error'] },
];

export const sharedResponses: Record<string, JsonObject> = Object.fromEntries(
  SHARED.map((shared) => [shared.name, problemResponse(shared.status, shared.types)]),
);

function problemAnswer(status: number, types: readonly string[]): JsonObject {
  const shared = SHARED.find(
    (candidate) => candidate.status === status && candidate.types.join() === [...new Set(types)].join(),
  );
  return shared ? { $ref: `#/components/responses/${shared.name}` } : problemResponse(status, types);
}

function mergeProblems(...sets: Array<Record<number, readonly string[]>>): Map<number, string[]> {
  const merged = new Map<number, string[]>();
  for (const set of sets) {
    for (const [status, types] of Object.entries(set)) {
      merged.set(Number(status), [...(merged.get(Number(status)) ?? []), ...types]);
    }
  }
  return new Map([...merged.entries()].sort(([a], [b]) => a - b));
}

function accessWords(access: Access): string {
  if (access === 'public') return 'Anonymous: no token needed.';
  if (access === 'any') return 'Any registered system (bearer token or console session).';
  const roles = access.roles.map(tick).join(' or ');
  const note = access.note ? ` (${access.note})` : '';
  return `Role ${roles}${note}${access.self ? `, or ${access.self}` : ''}.`;
}

/**
 * A bearer JWT; or a console session cookie with its anti-CSRF header, where a session can pass: it
 * acts as its system with the `audit` role only.
 */
function securityOf(access: Access): JsonObject[] {
  if (access === 'public') return [];
  const bearer = { [BEARER]: [] };
  const session = { [CONSOLE_SESSION]: [], [CONSOLE_CSRF]: [] };
  if (access === 'any' || access.self || access.roles.includes('audit')) return [bearer, session];
  return [bearer];
}

export function operation(spec: OperationSpec): JsonObject {
  const inPath = spec.parameters?.some((parameter) => parameter.in === 'path') ?? false;
  const problems = mergeProblems(
    // Any URL holding %00; a path parameter whose percent-encoding is not UTF-8.
    { 400: inPath ? ['unsupported-character', 'malformed-path'] : ['unsupported-character'] },
    accessProblems(spec.access),
    spec.body ? BODY_PROBLEMS : {},
    spec.problems ?? {},
    spec.audited ? { 503: ['audit-unavailable'] } : {},
    // Any request reaching an instance that is draining (SIGTERM).
    { 500: ['internal-error'], 503: ['shutting-down'] },
  );
  const responses: JsonObject = { ...spec.responses };
  for (const [status, types] of problems) responses[String(status)] = problemAnswer(status, types);
  const words = accessWords(spec.access);
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    description: spec.description ? `${spec.description}\n\n${words}` : words,
    tags: [spec.tag],
    security: securityOf(spec.access),
    ...(spec.access === 'public'
      ? {}
      : { 'x-required-roles': spec.access === 'any' ? [] : [...spec.access.roles] }),
    ...(spec.access !== 'public' && spec.access !== 'any' && spec.access.self
      ? { 'x-also-allowed': spec.access.self }
      : {}),
    ...(spec.parameters ? { parameters: spec.parameters } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: spec.bodyRequired ?? true,
            content: { 'application/json': { schema: spec.body } },
          },
        }
      : {}),
    responses,
  };
}

/** A JSON answer. */
export function json(description: string, schema: JsonObject, headers?: JsonObject): JsonObject {
  return { description, ...(headers ? { headers } : {}), content: { 'application/json': { schema } } };
}

export const LOCATION = {
  Location: { description: 'Where the created resource can be read.', schema: { type: 'string' } },
};

export function pathParameter(name: string, description: string, schema: JsonObject): JsonObject {
  return { name, in: 'path', required: true, description, schema };
}

export function queryParameter(
  name: string,
  description: string,
  schema: JsonObject,
  required = false,
): JsonObject {
  return { name, in: 'query', required, description, schema };
}

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
