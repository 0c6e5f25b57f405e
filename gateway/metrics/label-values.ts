/**
 * Label values from a known set: registered departments, catalog types, a fixed list of reasons.
 * Anything else becomes one fixed value, so a caller cannot create series by sending new strings.
 */

/** A department that is not registered, or a reason outside the known list. */
export const OTHER = 'other';
/** A certificate type the catalog does not have (or a lookup that failed before naming one). */
export const UNKNOWN = 'unknown';

export class BoundedLabel {
  private known: ReadonlySet<string>;

  constructor(
    readonly fallback: string,
    values: Iterable<string> = [],
  ) {
    this.known = new Set(values);
  }

  /** Replaces the known values, e.g. after departments were registered. */
  replace(values: Iterable<string>): void {
    this.known = new Set(values);
  }

  has(value: string): boolean {
    return this.known.has(value);
  }

  /** `value` if it is known, else the fallback. One set look-up: cheap enough for every lookup. */
  of(value: string | undefined): string {
    return value !== undefined && this.known.has(value) ? value : this.fallback;
  }

  values(): Iterable<string> {
    return this.known.values();
  }
}
