/**
 * Where the project's data files are (schemas, policies, migrations, seed data). Resolved from this
 * file's location, so it works from the TypeScript sources (tests) and from the compiled `dist/`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${start}: cannot find SiloBridge's files.`);
    dir = parent;
  }
  return dir;
}

export const projectRoot = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));
export const schemasDir = path.join(projectRoot, 'schemas');
export const policiesDir = path.join(projectRoot, 'policies');
export const migrationsDir = path.join(projectRoot, 'gateway', 'storage', 'migrations');
export const sampleSeedDir = path.join(projectRoot, 'connectors', 'samples', 'seed');
/** The console's pages, scripts and styles (served as they are: no build step). */
export const consoleAssetsDir = path.join(projectRoot, 'gateway', 'console', 'assets');
