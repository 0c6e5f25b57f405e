/**
 * The gateway's error hierarchy. Every error a caller can see is one of these; `gateway/http/problem.ts`
 * turns them into RFC 9457 problem JSON in one place. `type` URIs are stable: clients branch on them.
 */

export const PROBLEM_TYPE_BASE = 'https://silobridge.dev/problems/';

export interface ProblemExtensions {
  [member: string]: unknown;
}

export class GatewayError extends Error {
  /** Last segment of the problem `type` URI, e.g. `invalid-request`. */
  readonly problem: string;
  readonly status: number;
  readonly title: string;
  readonly extensions: ProblemExtensions;
  /** Response headers that belong to this problem, e.g. `Retry-After` on 429 or `WWW-Authenticate` on 401. */
  headers: Record<string, string> = {};

  constructor(
    problem: string,
    status: number,
    title: string,
    detail: string,
    extensions: ProblemExtensions = {},
    options?: ErrorOptions,
  ) {
    super(detail, options);
    this.name = new.target.name;
    this.problem = problem;
    this.status = status;
    this.title = title;
    this.extensions = extensions;
  }

  get type(): string {
    return PROBLEM_TYPE_BASE + this.problem;
  }
}

/** One thing wrong with the caller's input, in JSON Pointer terms so a client can highlight it. */
export interface InvalidParam {
  pointer: string;
  reason: string;
}

export class BadRequestError extends GatewayError {
  constructor(detail: string, errors: InvalidParam[] = [], problem = 'invalid-request') {
    super(problem, 400, 'The request is not valid', detail, errors.length > 0 ? { errors } : {});
  }
}

/** A 400 that lists every problem with the input, e.g. `The lookup request is not valid: /purpose is required.` */
export function invalidInput(what: string, errors: InvalidParam[]): BadRequestError {
  const listed = errors.map((error) => `${error.pointer} ${error.reason}`).join('; ');
  return new BadRequestError(`${what} is not valid: ${listed}.`, errors);
}

export class MalformedJsonError extends GatewayError {
  constructor(detail: string) {
    super('malformed-json', 400, 'The request body is not valid JSON', detail);
  }
}

export class PayloadTooLargeError extends GatewayError {
  constructor(limitBytes: number) {
    super(
      'payload-too-large',
      413,
      'The request body is too large',
      `The request body exceeds the limit of ${limitBytes} bytes.`,
      { limitBytes },
    );
  }
}

export class UnsupportedMediaTypeError extends GatewayError {
  constructor(received: string | undefined) {
    super(
      'unsupported-media-type',
      415,
      'Unsupported media type',
      `Expected Content-Type application/json, received ${received ? `'${received}'` : 'none'}.`,
    );
  }
}

export class NotFoundError extends GatewayError {
  constructor(detail: string, problem = 'not-found', extensions: ProblemExtensions = {}) {
    super(problem, 404, 'Not found', detail, extensions);
  }
}

export class ServiceUnavailableError extends GatewayError {
  constructor(detail: string, problem = 'service-unavailable', extensions: ProblemExtensions = {}) {
    super(problem, 503, 'Service unavailable', detail, extensions);
  }
}

export class BadGatewayError extends GatewayError {
  constructor(detail: string, problem = 'bad-gateway', extensions: ProblemExtensions = {}) {
    super(problem, 502, 'The provider answered with something unusable', detail, extensions);
  }
}

export class GatewayTimeoutError extends GatewayError {
  constructor(detail: string, problem = 'provider-timeout', extensions: ProblemExtensions = {}) {
    super(problem, 504, 'The provider did not answer in time', detail, extensions);
  }
}

/** Start-up configuration that cannot be used; the process prints the message and exits. */
/** 409: what was asked conflicts with what exists (a duplicate, something still in use, already ended). */
export class ConflictError extends GatewayError {
  constructor(
    detail: string,
    problem: string,
    extensions: ProblemExtensions = {},
    title = 'Conflict with what exists',
  ) {
    super(problem, 409, title, detail, extensions);
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export class ForbiddenError extends GatewayError {
  constructor(detail: string, reason: string, extensions: ProblemExtensions = {}) {
    super('access-denied', 403, 'Access denied', detail, { reason, ...extensions });
  }
}

export class TooManyRequestsError extends GatewayError {
  constructor(detail: string, retryAfterSeconds: number, extensions: ProblemExtensions = {}) {
    super('rate-limited', 429, 'Too many requests', detail, {
      reason: 'rate-limited',
      retryAfterSeconds,
      ...extensions,
    });
    this.headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}
