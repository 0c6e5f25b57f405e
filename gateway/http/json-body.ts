/**
 * Reading request bodies, once, for every route: the media type (JSON only), the size limit, the
 * Content-Encoding (identity, gzip, deflate, br), the charset, the JSON syntax, how deeply it nests
 * and the characters in its strings (no U+0000, no lone surrogate: PostgreSQL stores neither, in
 * `text` or in the audit log's `jsonb`; nor may the URL hold a `%00`). Whatever goes wrong is a GatewayError with a stable problem
 * type, never a 500: the body is the caller's, so is the mistake.
 *
 * Nesting is limited because code that walks a value (schema validation, canonical JSON, the audit
 * log's serialisation) recurses: a body of 10,000 nested arrays fits in 20 KB and overflows the stack.
 * JSON.parse itself does not recurse, so the check runs on the parsed value, without recursing either.
 *
 * Some routes must see a body that could not be read instead of having it answered for them: a lookup
 * is audited whatever breaks, which needs the caller authenticated first. For those, the error
 * reaches the route as an `UnreadableBody` in `req.body`; the route's own parser throws it.
 */
import express, { type Request, type RequestHandler } from 'express';
import { GatewayError, UnsupportedMediaTypeError } from '../foundation/errors.js';
import { asGatewayError } from './problem.js';

/** Objects and arrays inside one another, the outermost counting 1. Enough for every body we accept. */
export const DEFAULT_MAX_JSON_DEPTH = 32;

const JSON_TYPES = ['application/json', 'application/*+json'];

/** A body that could not be read, handed to a route that asked for it (see `deferTo`). */
export class UnreadableBody {
  constructor(readonly error: GatewayError) {}
}

/** Throws the reason a body could not be read, if it could not. */
export function throwIfUnreadable(body: unknown): void {
  if (body instanceof UnreadableBody) throw body.error;
}

export class JsonTooDeepError extends GatewayError {
  constructor(maxDepth: number) {
    super(
      'json-too-deep',
      400,
      'The request body is nested too deeply',
      `The JSON body nests objects and arrays more than ${maxDepth} levels deep.`,
      { maxDepth },
    );
  }
}

/** Half of a surrogate pair, alone. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** U+0000 or a lone surrogate: text PostgreSQL cannot store (in `text` or `jsonb`). */
export function hasUnsupportedText(text: string): boolean {
  return text.includes('\u0000') || LONE_SURROGATE.test(text);
}

export class UnsupportedCharacterError extends GatewayError {
  constructor(where: string, pointer?: string) {
    super(
      'unsupported-character',
      400,
      'The request holds a character the gateway does not accept',
      `${where} holds U+0000 (NUL) or an unpaired UTF-16 surrogate: no value the gateway takes may contain either.`,
      pointer === undefined ? {} : { errors: [{ pointer, reason: 'holds U+0000 or an unpaired surrogate' }] },
    );
  }
}

const pointerTo = (parent: string, key: string | number) =>
  `${parent}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;

/**
 * Why a parsed JSON body cannot be taken, if it cannot: it nests objects and arrays more than
 * `maxDepth` levels deep, or a string in it (a value or a member name) holds text no store can keep.
 * One pass, iterative: no stack, however deep the value.
 */
export function checkJsonValue(value: unknown, maxDepth: number): GatewayError | undefined {
  const pending: Array<{ node: unknown; depth: number; pointer: string }> = [
    { node: value, depth: 1, pointer: '' },
  ];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { node, depth, pointer } = next;
    if (typeof node === 'string') {
      if (hasUnsupportedText(node)) return new UnsupportedCharacterError('The JSON body', pointer || '/');
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    if (depth > maxDepth) return new JsonTooDeepError(maxDepth);
    const entries: Array<[string | number, unknown]> = Array.isArray(node)
      ? node.map((child, index) => [index, child])
      : Object.entries(node);
    for (const [key, child] of entries) {
      if (typeof key === 'string' && hasUnsupportedText(key)) {
        return new UnsupportedCharacterError('A member name in the JSON body', pointer || '/');
      }
      if (child !== null && (typeof child === 'object' || typeof child === 'string')) {
        pending.push({ node: child, depth: depth + 1, pointer: pointerTo(pointer, key) });
      }
    }
  }
  return undefined;
}

/** The Content-Encoding sent, if any: quoted when it is a plain token (it is echoed in a detail). */
function contentCoding(req: Request): string | undefined {
  const coding = req.headers['content-encoding']?.trim().toLowerCase();
  if (coding === undefined || coding === '' || coding === 'identity') return undefined;
  return /^[a-z0-9._-]{1,32}$/.test(coding) ? `'${coding}'` : 'given';
}

/**
 * Any error of the body parser as a problem. Known ones come from problem.ts; the rest are the
 * decompressor's (a body that is not the gzip, deflate or br its Content-Encoding says) or the
 * stream's, all the request's fault when the parser gives them a 4xx status.
 */
export function bodyProblem(error: unknown, req: Request): GatewayError | undefined {
  const known = asGatewayError(error);
  if (known) return known;
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  const coding = contentCoding(req);
  if (coding !== undefined) {
    return new GatewayError(
      'invalid-content-encoding',
      400,
      'The request body could not be decoded',
      `The body does not decode as the Content-Encoding ${coding} says it should.`,
    );
  }
  return new GatewayError(
    'invalid-request',
    400,
    'The request is not valid',
    'The request body could not be read.',
  );
}

export interface JsonBodyOptions {
  limitBytes: number;
  maxDepth: number;
  /** Requests whose body errors go to the route as an `UnreadableBody` rather than straight to problem JSON. */
  deferTo?: (req: Request) => boolean;
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

export function jsonBody(options: JsonBodyOptions): RequestHandler {
  const parse = express.json({ limit: options.limitBytes, type: JSON_TYPES });
  return (req, res, next) => {
    const refuse = (error: unknown) => {
      const problem = bodyProblem(error, req);
      if (problem === undefined) {
        next(error);
        return;
      }
      if (!options.deferTo?.(req)) {
        next(problem);
        return;
      }
      req.body = new UnreadableBody(problem);
      next();
    };
    if (req.originalUrl.includes('%00')) {
      refuse(new UnsupportedCharacterError('The URL'));
      return;
    }
    if (hasBody(req) && !req.is(JSON_TYPES)) {
      refuse(new UnsupportedMediaTypeError(req.headers['content-type']));
      return;
    }
    const parsed = (error?: unknown) => {
      if (error) {
        refuse(error);
        return;
      }
      const unacceptable = checkJsonValue(req.body, options.maxDepth);
      if (unacceptable) refuse(unacceptable);
      else next();
    };
    try {
      parse(req, res, parsed);
    } catch (error) {
      // A header the parser cannot read (a malformed Content-Type parameter) throws a TypeError at once.
      if (error instanceof TypeError) refuse(Object.assign(error, { status: 400 }));
      else next(error);
    }
  };
}
