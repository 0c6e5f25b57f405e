/**
 * Mistakes in a connector configuration file, each told the way a person fixes it: the file, the line,
 * the setting's path in the file (`certificateTypes.business-licence.postgres.table`) and what is
 * expected there. The loader collects every mistake it can find and throws them together.
 */

/** Keys and list indices from the top of the file, e.g. `['certificateTypes', 'business-licence']`. */
export type ConfigPath = readonly (string | number)[];

export interface ConfigProblem {
  /** The configuration file, as given. */
  file: string;
  /** Dotted path of the setting, `[i]` for list items; empty for the file as a whole. */
  path: string;
  /** 1-based; absent when the mistake has no place in the file. */
  line?: number;
  column?: number;
  message: string;
}

/** `file:line:column: path: message`, the form editors and terminals link to the place. */
export function formatProblem(problem: ConfigProblem): string {
  const place =
    problem.line === undefined ? problem.file : `${problem.file}:${problem.line}:${problem.column ?? 1}`;
  return problem.path === ''
    ? `${place}: ${problem.message}`
    : `${place}: ${problem.path}: ${problem.message}`;
}

export class ConnectorConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    const count = problems.length === 1 ? 'a mistake' : `${problems.length} mistakes`;
    super(
      `the connector configuration ${file} has ${count}:\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`,
    );
    this.name = 'ConnectorConfigError';
  }
}

const PLAIN_KEY = /^[A-Za-z0-9_$-]+$/;

/** `certificateTypes.business-licence.postgres.subjectColumns.residentIdNumber[1]`. */
export function formatPath(path: ConfigPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** A short, safe description of a value for "got ..." (never the whole of a long value). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return 'an empty map';
    return keys.length <= 4 ? `a map of ${keys.join(', ')}` : `a map of ${keys.length} settings`;
  }
  if (typeof value === 'string') {
    return value.length > 60
      ? `the text ${JSON.stringify(`${value.slice(0, 57)}...`)}`
      : JSON.stringify(value);
  }
  return String(value);
}

/** The candidate closest to `word` when it is a plausible typo of it, for "did you mean ...?". */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const list = [...candidates];
  // A shortened name (idNumber for residentIdNumber) is as plausible as a misspelt one.
  const containing = list.filter((candidate) => lower.length >= 4 && candidate.toLowerCase().includes(lower));
  if (containing.length === 1) return containing[0];
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of list) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** ` Did you mean "table"?`, or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const suggestion = closest(word, candidates);
  return suggestion === undefined ? '' : ` Did you mean "${suggestion}"?`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}
