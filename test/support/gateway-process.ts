/**
 * Runs the built gateway (`dist/gateway/main.js`, what `npm start` runs) as a child process and
 * reads its JSON log lines, so tests see exactly what an operator would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../gateway/foundation/paths.js';

export const gatewayEntry = path.join(projectRoot, 'dist', 'gateway', 'main.js');

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  logs: Array<Record<string, unknown>>;
  stderr: () => string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How to start it, when not as `npm start` does (e.g. as a container image would). */
export interface GatewayCommand {
  /** Arguments to node; default: the built gateway. */
  args: string[];
  cwd: string;
  /** Run as this user and group (needs root). */
  uid?: number;
  gid?: number;
  /** The whole environment (no defaults added). */
  exactEnv?: boolean;
  timeoutMs?: number;
}

export async function startGatewayProcess(
  env: Record<string, string>,
  command: GatewayCommand = { args: [gatewayEntry], cwd: projectRoot },
): Promise<GatewayProcess> {
  if (!existsSync(gatewayEntry))
    throw new Error(`${gatewayEntry} is missing: run \`npm run build\` (npm test does).`);
  const timeoutMs = command.timeoutMs ?? 30_000;
  const child = spawn(process.execPath, command.args, {
    cwd: command.cwd,
    env: command.exactEnv ? env : { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(command.uid === undefined ? {} : { uid: command.uid, gid: command.gid }),
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let pending = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gateway did not start in ${timeoutMs} ms: ${stderr}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'gateway listening') {
          clearTimeout(timer);
          resolve(String(entry.url));
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      // A start-up failure is a `fatal` JSON line on stdout; configuration errors go to stderr.
      const fatal = logs.filter((line) => line.level === 'fatal' || line.level === 60);
      const logged = fatal.map((line) => `${line.msg}: ${JSON.stringify(line.err ?? {})}`).join('\n');
      reject(new Error(`gateway exited with ${code} before listening: ${stderr}${logged}`));
    });
  });

  return {
    child,
    url,
    logs,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
