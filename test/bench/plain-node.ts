/**
 * A benchmark part under plain `node`, as `npm start` runs the build. tsx's loader is a second V8
 * isolate on a thread of its own: it adds about 70 MiB of RSS (and some CPU) to whatever process
 * loads it, which would count against the gateway. So for `--gateway-from dist` the part and the
 * test files it imports are transpiled (TypeScript's transpileModule: types erased, nothing checked;
 * `npm run typecheck` does that) into node_modules/.cache/silobridge-bench/, under the same relative
 * paths, so that their imports and node_modules resolve as they do from the sources.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TypeScript from 'typescript';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outRoot = path.join(repoRoot, 'node_modules/.cache/silobridge-bench');

const transpiled = new Map<string, string>();

/**
 * Transpiles `entry` (a .ts file of the repository) and every relative module it imports at run
 * time (type-only imports are gone from the output, so they are not followed); returns the path of
 * the entry's JavaScript. Once per entry and process: gateways started at once (--overlap-startup)
 * share the files, and a file is replaced whole (written aside, then renamed), never rewritten in
 * place, so no process (nor another benchmark's) can load a half-written one.
 */
export function transpileForPlainNode(entry: string): string {
  const source = path.resolve(entry);
  const known = transpiled.get(source);
  if (known) return known;
  const target = transpileTree(source);
  transpiled.set(source, target);
  return target;
}

function transpileTree(entry: string): string {
  // Loaded here, not at import: the parts import this module's neighbours, and TypeScript is large.
  const ts = createRequire(import.meta.url)('typescript') as typeof TypeScript;
  const done = new Set<string>();
  const visit = (source: string): string => {
    const relativePath = path.relative(repoRoot, source).replace(/\.ts$/, '.js');
    const target = path.join(outRoot, relativePath);
    if (done.has(source)) return target;
    done.add(source);
    const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: source,
    });
    if (!existsSync(target) || readFileSync(target, 'utf8') !== outputText) {
      mkdirSync(path.dirname(target), { recursive: true });
      const aside = `${target}.${process.pid}.tmp`;
      writeFileSync(aside, outputText);
      renameSync(aside, target);
    }
    // The imports left in the JavaScript, parsed (comments and strings that look like one are not).
    for (const { fileName } of ts.preProcessFile(outputText, true, true).importedFiles) {
      if (fileName.startsWith('.'))
        visit(path.resolve(path.dirname(source), fileName.replace(/\.js$/, '.ts')));
    }
    return target;
  };
  return visit(entry);
}
