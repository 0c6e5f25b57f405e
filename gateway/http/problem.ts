/**
 * The one place errors become responses: RFC 9457 `application/problem+json` with a stable `type`.
 * Body-parser errors are translated here too, so malformed JSON and oversized bodies look like every
 * other problem. Only 5xx are logged at error level; the caller never sees a stack trace.
 */
import type { ErrorRequestHandler, Response } from 'express';
import {
  GatewayError,
  MalformedJsonError,
  PayloadTooLargeError,
  PROBLEM_TYPE_BASE,
  UnsupportedMediaTypeError,
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
    case 'encoding.unsupported':
      return new UnsupportedMediaTypeError(
        error.charset ? `charset ${error.charset}` : 'an unsupported encoding',
      );
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
  return error instanceof Error ? fromBodyParser(error as BodyParserError) : undefined;
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
  const problem = toProblem(error, req.id ? `urn:silobridge:request:${req.id}` : undefined);
  // Not logged here: the request's one log line (pino-http, when the response ends) carries the
  // problem type, and the error itself only when nobody anticipated it.
  (res as { [PROBLEM_TYPE]?: string })[PROBLEM_TYPE] = problem.type;
  if (!asGatewayError(error)) res.err = error as Error;
  if (res.headersSent) {
    res.end();
    return;
  }
  if (error instanceof GatewayError) res.set(error.headers);
  sendProblem(res, problem);
};
