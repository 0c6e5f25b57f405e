/**
 * Reads a connector configuration file, YAML or JSON (JSON is read as the YAML it also is), and keeps
 * its syntax tree so every mistake found later can name the line it is on. A file that cannot be read
 * or parsed fails here, with every syntax error at once.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { type ConfigPath, type ConfigProblem, ConnectorConfigError, formatPath } from './config-problems.js';

export interface ConfigSource {
  /** The file as given, for messages. */
  file: string;
  /** Its absolute folder: relative paths in the file are resolved against it. */
  dir: string;
  /** The parsed content (plain objects, lists and scalars). */
  data: unknown;
  /** A mistake at `path`, placed on the line of the deepest part of the path the file has. */
  problem(path: ConfigPath, message: string): ConfigProblem;
}

export async function readConfigSource(file: string): Promise<ConfigSource> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? 'the file does not exist'
        : code === 'EISDIR'
          ? 'is a folder, not a configuration file'
          : `cannot be read (${code ?? (error as Error).message})`;
    throw new ConnectorConfigError(file, [{ file, path: '', message }]);
  }
  return parseConfigSource(file, text);
}

/** Parses the text of `file` (which is not read: tests and tools may pass text directly). */
export function parseConfigSource(file: string, text: string): ConfigSource {
  const lines = new LineCounter();
  const textOfLine = (line: number) => text.split(/\r?\n/)[line - 1] ?? '';
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConnectorConfigError(
      file,
      document.errors.map((error) => {
        const { line, col } = lines.linePos(error.pos[0]);
        const text = textOfLine(line);
        return { file, path: '', line, column: col, message: syntaxMessage(error.code, error.message, text) };
      }),
    );
  }
  const locate = (at: ConfigPath): { line: number; column: number } | undefined => {
    let node: unknown = document.contents;
    let offset: number | undefined;
    for (const segment of at) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (!pair) break;
        offset = (pair.key as Node).range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
        node = node.items[segment];
        offset = (node as Node).range?.[0] ?? offset;
      } else {
        break;
      }
    }
    if (offset === undefined) return undefined;
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  return {
    file,
    dir: path.dirname(path.resolve(file)),
    data: document.toJS({ maxAliasCount: 100 }),
    problem(at, message) {
      return { file, path: formatPath(at), ...locate(at), message };
    },
  };
}

function syntaxMessage(code: string, message: string, line: string): string {
  if (code === 'DUPLICATE_KEY') return 'a key appears twice in the same map (keep one)';
  // The parser's own words, without the position it appends (the problem carries it).
  const words = `not valid YAML or JSON: ${message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '')}`;
  // The likeliest cause on such a line: YAML reads an unquoted {id} in a list or map written [...] or
  // {...} as a map.
  return /[[{].*\{/.test(line)
    ? `${words} (quote a value holding { }, such as a path template: 'licences/{id}')`
    : words;
}
