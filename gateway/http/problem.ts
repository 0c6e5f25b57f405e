/**
 * The one place errors become responses: RFC 9457 `application/problem+json` with a stable `type`.
 * Body-parser errors are translated here too, so malformed JSON and oversized bodies look like every
 * other problem, and so is a path parameter whose percent-encoding cannot be decoded. Only 5xx are
 * logged at error level; the caller never sees a stack trace.
 */
import zlib from 'node:zlib';
import type { ErrorRequestHandler, Response } from 'express';
import {
  GatewayError,
  MalformedJsonError,
  PayloadTooLargeError,
  PROBLEM_TYPE_BASE,
} from '../foundation/errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  [extension: string]: unknown;
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
  charset?: string;
  encoding?: string;
}

/** The Content-Encodings the body parser can decode (RFC 9110: a 415 for an encoding names them). */
export const ACCEPTED_CONTENT_CODINGS = [
  'gzip',
  'deflate',
  'br',
  ...('createZstdDecompress' in zlib ? ['zstd'] : []),
].join(', ');

/** A value the caller sent, fit to quote in a detail: short and plain, or not at all. */
function quoted(value: string | undefined): string {
  return value !== undefined && /^[A-Za-z0-9._-]{1,40}$/.test(value) ? `'${value}'` : 'the one given';
}

function unsupportedContentEncoding(encoding: string | undefined): GatewayError {
  const error = new GatewayError(
    'unsupported-content-encoding',
    415,
    'Unsupported content encoding',
    `The Content-Encoding ${quoted(encoding)} is not supported: send the body as is, or with one of ${ACCEPTED_CONTENT_CODINGS}.`,
  );
  error.headers['Accept-Encoding'] = ACCEPTED_CONTENT_CODINGS;
  return error;
}

/**
 * Express (its router) could not decode a path parameter's percent-encoding (`%E0%A4%A`, `%ZZ`): a
 * URIError it marks 400. Its message quotes the parameter, so it is not passed on.
 */
function isUndecodablePath(error: Error): boolean {
  return error instanceof URIError && (error as { status?: unknown }).status === 400;
}

function jsonErrorPosition(message: string): string {
  const position = /position (\d+)/.exec(message)?.[1];
  return position === undefined ? '' : ` (error at character ${position})`;
}

/** Errors thrown by express.json() carry a `type` string; map them to our hierarchy. */
function fromBodyParser(error: BodyParserError): GatewayError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      // Not the parser's message: it quotes the body, which may hold personal data.
      return new MalformedJsonError(
        `The body could not be parsed as JSON${jsonErrorPosition(error.message)}.`,
      );
    case 'entity.too.large':
      return new PayloadTooLargeError(error.limit ?? 0);
    case 'charset.unsupported':
      return new GatewayError(
        'unsupported-media-type',
        415,
        'Unsupported media type',
        `The charset ${quoted(error.charset)} is not supported: send the JSON in UTF-8.`,
      );
    case 'encoding.unsupported':
      return unsupportedContentEncoding(error.encoding);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new GatewayError('invalid-request', 400, 'The request is not valid', error.message);
    default:
      return undefined;
  }
}

/** The error as one of ours, or undefined for a failure nobody anticipated (a bug: 500). */
export function asGatewayError(error: unknown): GatewayError | undefined {
  if (error instanceof GatewayError) return error;
  if (!(error instanceof Error)) return undefined;
  if (isUndecodablePath(error)) {
    return new GatewayError(
      'malformed-path',
      400,
      'The request path is not valid',
      'The request path has a malformed percent-encoding (each % must start a UTF-8 byte as two hex digits).',
    );
  }
  return fromBodyParser(error as BodyParserError);
}

export function toProblem(error: unknown, instance?: string): ProblemDocument {
  const known = asGatewayError(error);
  if (known) {
    return {
      ...known.extensions,
      type: known.type,
      title: known.title,
      status: known.status,
      detail: known.message,
      ...(instance ? { instance } : {}),
    };
  }
  return {
    type: `${PROBLEM_TYPE_BASE}internal-error`,
    title: 'Internal error',
    status: 500,
    detail:
      'The gateway failed to handle this request. It has been logged; quote the request id when reporting it.',
    ...(instance ? { instance } : {}),
  };
}

export function sendProblem(res: Response, problem: ProblemDocument): void {
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).json(problem);
}

const PROBLEM_TYPE = Symbol('problem type');

/** The problem type a response was answered with, for its log line (gateway/http/app.ts). */
export function problemTypeOf(res: object): string | undefined {
  return (res as { [PROBLEM_TYPE]?: string })[PROBLEM_TYPE];
}

export const problemErrorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const known = asGatewayError(error);
  const problem = toProblem(known ?? error, req.id ? `urn:silobridge:request:${req.id}` : undefined);
  // Not logged here: the request's one log line (pino-http, when the response ends) carries the
  // problem type, and the error itself only when nobody anticipated it.
  (res as { [PROBLEM_TYPE]?: string })[PROBLEM_TYPE] = problem.type;
  if (!known) res.err = error as Error;
  if (res.headersSent) {
    res.end();
    return;
  }
  if (known) res.set(known.headers);
  sendProblem(res, problem);
};
