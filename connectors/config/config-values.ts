/**
 * Settings that may hold secrets (connection strings, API keys) can name where the value is instead of
 * holding it: `{ fromEnv: NAME }` (an environment variable, which must be set) or `{ fromFile: path }`
 * (a file's content without surrounding white space, as Docker and Kubernetes mount secrets). A plain
 * string is the value itself.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigPath, ConfigProblem } from './config-problems.js';
import type { ConfigSource } from './config-source.js';

export type Env = Readonly<Record<string, string | undefined>>;

export type ValueSetting = string | { fromEnv: string } | { fromFile: string };

/**
 * The value of a setting, or undefined with a problem recorded when what it names is missing. A setting
 * of the wrong shape is left to the schema check (undefined, no problem).
 */
export function resolveValue(
  setting: unknown,
  at: ConfigPath,
  context: { source: ConfigSource; env: Env; problems: ConfigProblem[] },
): string | undefined {
  const { source, env, problems } = context;
  if (typeof setting === 'string') return setting;
  if (typeof setting !== 'object' || setting === null) return undefined;
  const { fromEnv, fromFile } = setting as { fromEnv?: unknown; fromFile?: unknown };
  if (typeof fromEnv === 'string' && fromFile === undefined) {
    const value = env[fromEnv]?.trim();
    if (value === undefined || value === '') {
      problems.push(
        source.problem(
          [...at, 'fromEnv'],
          `the environment variable ${fromEnv} is ${value === undefined ? 'not set' : 'empty'}: set it, or change the setting`,
        ),
      );
      return undefined;
    }
    return value;
  }
  if (typeof fromFile === 'string' && fromEnv === undefined && fromFile !== '') {
    const file = path.resolve(source.dir, fromFile);
    let value: string;
    try {
      value = readFileSync(file, 'utf8').trim();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
      problems.push(source.problem([...at, 'fromFile'], `the file ${file} ${why}`));
      return undefined;
    }
    if (value === '') {
      problems.push(source.problem([...at, 'fromFile'], `the file ${file} is empty`));
      return undefined;
    }
    return value;
  }
  return undefined;
}
