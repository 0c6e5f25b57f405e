/**
 * Runs `silobridge connector --department <code>` from the build (`dist/gateway/cli/silobridge.js`)
 * as its own process, as a department team runs it, and stops child processes the way an operator
 * would: SIGTERM, then SIGKILL if the process has not exited within a grace period.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../gateway/foundation/paths.js';

export const cliEntry = path.join(projectRoot, 'dist', 'gateway', 'cli', 'silobridge.js');

export interface ConnectorProcess {
  department: string;
  instanceId: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far, for assertion messages. */
  output: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface ConnectorProcessOptions {
  department: string;
  instanceId: string;
  /** KAFKA_BROKERS, SILOBRIDGE_TOPIC_PREFIX and anything else the connector should see. */
  env: Record<string, string>;
}

export function startConnectorProcess(options: ConnectorProcessOptions): ConnectorProcess {
  if (!existsSync(cliEntry))
    throw new Error(`${cliEntry} is missing: run \`npm run build\` (npm test does).`);
  const child = spawn(
    process.execPath,
    [cliEntry, 'connector', '--department', options.department, '--instance-id', options.instanceId],
    {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return {
    department: options.department,
    instanceId: options.instanceId,
    child,
    output: () => output,
    stop: (graceMs) => stopChildProcess(child, graceMs),
  };
}

/** Whether the child process is still running (it has neither exited nor been ended by a signal). */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves when the child has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL if the child is still running after `graceMs`; resolves once it has exited. */
export async function stopChildProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (!isRunning(child)) return;
  const exited = exitOf(child);
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const first = await Promise.race([exited.then(() => 'exited' as const), timedOut]);
  clearTimeout(timer);
  if (first === 'timeout' && isRunning(child)) {
    child.kill('SIGKILL');
    await exited;
  }
}
