/**
 * Reading the project's hand-written data files (policies, the matter catalogue): YAML or JSON parsed
 * with every problem kept, and schema errors turned into problems that name the file, the line and
 * the JSON Pointer, so whoever edits a file is told where it is wrong.
 */
import type { ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';

export interface DataFileProblem {
  file: string;
  /** 1-based line in the file, when the problem has a place. */
  line?: number;
  /** JSON Pointer into the document. */
  pointer?: string;
  message: string;
}

export interface DataFileSource {
  /** The name shown in problems. */
  file: string;
  text: string;
}

/** The line where the node at `path` (or its nearest ancestor) starts. */
export type LineFinder = (path: Array<string | number>) => number | undefined;

/**
 * Parses YAML (JSON is YAML) with unique keys; syntax errors go to `problems` and `value` is then
 * undefined. An empty file parses to null.
 */
export function parseDataFile(
  source: DataFileSource,
  problems: DataFileProblem[],
): { value: unknown; lineAt: LineFinder } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source.text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  for (const error of doc.errors) {
    problems.push({
      file: source.file,
      line: error.linePos?.[0]?.line,
      message: error.message.split('\n')[0] ?? '',
    });
  }
  const lineAt: LineFinder = (path) => {
    for (let length = path.length; length >= 0; length -= 1) {
      const node = doc.getIn(path.slice(0, length), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return { value: doc.errors.length > 0 ? undefined : doc.toJS({ maxAliasCount: 100 }), lineAt };
}

/** A JSON Pointer's segments, array indexes as numbers. */
export function pointerSegments(pointer: string): Array<string | number> {
  return pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}

/** Ajv's errors as problems: the pointer names the missing or unknown property itself. */
export function schemaProblems(
  file: string,
  errors: ErrorObject[] | null | undefined,
  lineAt: LineFinder,
): DataFileProblem[] {
  return (errors ?? []).map((error) => {
    const params = error.params as { missingProperty?: string; additionalProperty?: string };
    const child = params.missingProperty ?? params.additionalProperty;
    const pointer = child === undefined ? error.instancePath : `${error.instancePath}/${child}`;
    return {
      file,
      line: lineAt(pointerSegments(pointer)),
      pointer: pointer || '/',
      message: params.additionalProperty ? 'is not a known property' : (error.message ?? 'is not valid'),
    };
  });
}
