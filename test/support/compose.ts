/**
 * docker-compose.yml as Compose reads it: `docker-compose config` (Debian's docker-compose package)
 * interpolates `.env` and prints the resolved file, the environment each container really gets.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { projectRoot } from '../../gateway/foundation/paths.js';

export const composeFile = path.join(projectRoot, 'docker-compose.yml');

export interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number | null>;
  healthcheck?: unknown;
  depends_on?: Record<string, { condition: string }>;
  volumes?: Array<string | { source?: string; target: string }>;
}
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** `.env.example` with every empty value filled in with a random one, as the operator is told to. */
export function filledEnvFile(): string {
  return readFileSync(path.join(projectRoot, '.env.example'), 'utf8').replace(
    /^([A-Z][A-Z0-9_]*)=$/gm,
    (_line, name: string) => `${name}=${randomBytes(24).toString('hex')}`,
  );
}

/** `docker-compose config` of the project's file with this .env content, parsed. */
export async function resolveCompose(envFileContent: string): Promise<ComposeFile> {
  const dir = await mkdtemp(path.join(tmpdir(), 'silobridge-compose-'));
  try {
    const envFile = path.join(dir, '.env');
    await writeFile(envFile, envFileContent);
    const { stdout } = await promisify(execFile)('docker-compose', [
      '-f',
      composeFile,
      '--env-file',
      envFile,
      'config',
    ]);
    return parse(stdout) as ComposeFile;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new Error('docker-compose is not installed: apt-get install docker-compose (see README).');
    }
    throw new Error(`docker-compose config failed: ${failure.stderr ?? failure.message}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A service's environment as the strings a process sees. */
export function environmentOf(service: ComposeService | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service?.environment ?? {}).map(([name, value]) => [name, String(value ?? '')]),
  );
}
