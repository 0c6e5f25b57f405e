/**
 * Small validators for the audit API's query strings and bodies. Each collects what is wrong as JSON
 * Pointer + reason (the `errors` of a 400 problem) instead of stopping at the first, so a data officer
 * sees every mistake in a request at once.
 */
import { BadRequestError, type InvalidParam, invalidInput } from '../foundation/errors.js';

export const REQUESTER = /^[a-z][a-z0-9-]{1,62}(\/[^\s/]{1,128})?$/;
export const MATTER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export class InputReader {
  readonly errors: InvalidParam[] = [];
  private readonly known = new Set<string>();

  constructor(
    private readonly input: Record<string, unknown>,
    private readonly pointerBase = '',
  ) {}

  private pointer(name: string): string {
    return `${this.pointerBase}/${name}`;
  }

  fail(name: string, reason: string): undefined {
    this.errors.push({ pointer: this.pointer(name), reason });
    return undefined;
  }

  private value(name: string): unknown {
    this.known.add(name);
    return this.input[name];
  }

  string(name: string, pattern: RegExp, expected: string, required = false): string | undefined {
    const value = this.value(name);
    if (value === undefined || value === '') return required ? this.fail(name, 'is required') : undefined;
    if (typeof value !== 'string')
      return this.fail(name, Array.isArray(value) ? 'is given more than once' : 'must be a string');
    if (!pattern.test(value)) return this.fail(name, `must be ${expected}`);
    return value;
  }

  text(name: string, maxLength: number, required = false): string | undefined {
    return this.string(
      name,
      new RegExp(`^[\\s\\S]{1,${maxLength}}$`),
      `1 to ${maxLength} characters`,
      required,
    );
  }

  /** A comma-separated list (query) or an array (body) of allowed values. */
  list<T extends string>(name: string, allowed: readonly T[]): T[] | undefined {
    const value = this.value(name);
    if (value === undefined || value === '') return undefined;
    const items = typeof value === 'string' ? value.split(',').map((item) => item.trim()) : value;
    if (!Array.isArray(items) || items.length === 0 || items.some((item) => typeof item !== 'string')) {
      return this.fail(name, `must be a comma-separated list of ${allowed.join(', ')}`);
    }
    const unknown = items.filter((item) => !(allowed as readonly string[]).includes(item as string));
    if (unknown.length > 0)
      return this.fail(name, `has ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`);
    return [...new Set(items as T[])];
  }

  dateTime(name: string, required = false): string | undefined {
    const value = this.string(
      name,
      DATE_TIME,
      'an RFC 3339 date-time with a time zone, e.g. 2026-05-01T00:00:00Z',
      required,
    );
    if (value === undefined) return undefined;
    const time = new Date(value);
    if (Number.isNaN(time.getTime())) return this.fail(name, 'is not a real date');
    return time.toISOString();
  }

  integer(name: string, min: number, max: number, required = false): number | undefined {
    const value = this.value(name);
    if (value === undefined || value === '') return required ? this.fail(name, 'is required') : undefined;
    const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
      return this.fail(name, `must be a whole number from ${min} to ${max}`);
    }
    return number;
  }

  object(name: string, required = false): Record<string, unknown> | undefined {
    const value = this.value(name);
    if (value === undefined) return required ? this.fail(name, 'is required') : undefined;
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return this.fail(name, 'must be an object');
    return value as Record<string, unknown>;
  }

  raw(name: string): unknown {
    return this.value(name);
  }

  /** Fails on parameters nobody read (a typo like `requestor` must not silently widen a search). */
  rejectUnknown(): void {
    for (const name of Object.keys(this.input)) {
      if (!this.known.has(name)) this.fail(name, 'is not a known parameter');
    }
  }

  /** Throws the 400 problem listing every error, if there is any. */
  done(what: string): void {
    if (this.errors.length === 0) return;
    throw invalidInput(what, this.errors);
  }
}

export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError('The request body must be a JSON object.', [
      { pointer: '/', reason: 'must be an object' },
    ]);
  }
  return body as Record<string, unknown>;
}
