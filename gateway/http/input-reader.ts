/**
 * Small validators for the audit API's query strings and bodies. Each collects what is wrong as JSON
 * Pointer + reason (the `errors` of a 400 problem) instead of stopping at the first, so a data officer
 * sees every mistake in a request at once.
 */
import { BadRequestError, type InvalidParam, invalidInput } from '../foundation/errors.js';
import { throwIfUnreadable } from './json-body.js';

export const REQUESTER = /^[a-z][a-z0-9-]{1,62}(\/[^\s/]{1,128})?$/;
export const MATTER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|([+-])(\d{2}):(\d{2}))$/;
/** The instants a date-time may name: four-digit years in UTC, as ISO 8601 and PostgreSQL write them. */
const EARLIEST = new Date(0).setUTCFullYear(1, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Days in `month` (1 to 12) of `year`, in the proleptic Gregorian calendar. */
function daysInMonth(year: number, month: number): number {
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year, month, 0);
  return lastDay.getUTCDate();
}

/**
 * The instant an RFC 3339 date-time names, or why it names none. Checked field by field: `Date`
 * would roll 31 February over to 3 March and 24:00 to the next day, and accepts years (0000, or past
 * 9999 once the offset is applied) that PostgreSQL refuses.
 */
export function parseDateTime(text: string): { time: Date } | { reason: string } | undefined {
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = [
    match[1],
    match[2],
    match[3],
    match[4],
    match[5],
    match[6] ?? '0',
    match[9] ?? '0',
    match[10] ?? '0',
  ].map(Number) as [number, number, number, number, number, number, number, number];
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetHours > 23 ||
    offsetMinutes > 59
  ) {
    return { reason: 'is not a real date and time' };
  }
  const milliseconds = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3));
  const time = new Date(0);
  time.setUTCFullYear(year, month - 1, day);
  time.setUTCHours(hour, minute, second, milliseconds);
  const offset = (match[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  time.setTime(time.getTime() - offset);
  if (time.getTime() < EARLIEST || time.getTime() > LATEST) {
    return { reason: 'is out of range: from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z' };
  }
  return { time };
}

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
    const parsed = parseDateTime(value);
    if (parsed === undefined || 'reason' in parsed) return this.fail(name, parsed?.reason ?? 'is not a date');
    return parsed.time.toISOString();
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
  throwIfUnreadable(body);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError('The request body must be a JSON object.', [
      { pointer: '/', reason: 'must be an object' },
    ]);
  }
  return body as Record<string, unknown>;
}
