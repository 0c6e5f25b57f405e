/**
 * The final stage of gateway/Dockerfile, read as Docker reads it (continuation lines joined, JSON
 * exec forms parsed), so tests rehearse exactly what the image would run.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../gateway/foundation/paths.js';

export const dockerfilePath = path.join(projectRoot, 'gateway', 'Dockerfile');

export interface ImageCopy {
  /** The build stage it copies from, or undefined for the build context (the repository root). */
  fromStage?: string;
  source: string;
  /** Absolute path in the image: the copy itself, or the folder it goes into (`intoFolder`). */
  destination: string;
  intoFolder: boolean;
}

export interface ImageStage {
  env: Record<string, string>;
  user: string | undefined;
  /** The working directory the CMD runs in. */
  workdir: string;
  copies: ImageCopy[];
  runs: string[];
  volumes: string[];
  cmd: string[];
  healthcheck: string[];
}

function instructions(text: string): Array<[string, string]> {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return [keyword.toUpperCase(), rest.join(' ')];
    });
}

/** `KEY=VALUE KEY2=VALUE2` (values without spaces, as ours are). */
function parseEnv(args: string): Record<string, string> {
  return Object.fromEntries(
    args.split(/\s+/).map((pair) => {
      const at = pair.indexOf('=');
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

export function readImageStage(file = dockerfilePath): ImageStage {
  const all = instructions(readFileSync(file, 'utf8'));
  const lastFrom = all.map(([keyword]) => keyword).lastIndexOf('FROM');
  const stage: ImageStage = {
    env: {},
    user: undefined,
    workdir: '/',
    copies: [],
    runs: [],
    volumes: [],
    cmd: [],
    healthcheck: [],
  };
  for (const [keyword, args] of all.slice(lastFrom + 1)) {
    switch (keyword) {
      case 'ENV':
        Object.assign(stage.env, parseEnv(args));
        break;
      case 'USER':
        stage.user = args;
        break;
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, args);
        break;
      case 'COPY': {
        const words = args.split(/\s+/);
        const from = words[0]?.startsWith('--from=') ? words.shift()?.slice('--from='.length) : undefined;
        const target = words.pop() ?? '';
        const destination = path.posix.resolve(stage.workdir, target);
        const intoFolder = target.endsWith('/') || words.length > 1;
        for (const source of words) stage.copies.push({ fromStage: from, source, destination, intoFolder });
        break;
      }
      case 'RUN':
        stage.runs.push(args);
        break;
      case 'VOLUME':
        stage.volumes.push(...(JSON.parse(args) as string[]));
        break;
      case 'CMD':
        stage.cmd = JSON.parse(args) as string[];
        break;
      case 'HEALTHCHECK':
        stage.healthcheck = JSON.parse(args.slice(args.indexOf('CMD ') + 4)) as string[];
        break;
    }
  }
  return stage;
}
