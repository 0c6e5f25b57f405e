/**
 * Runs a command to completion and hands back its exit status and combined stdout+stderr, for the
 * harness's one-shot JVM and Maven steps. A missing executable resolves with `missing: true` rather
 * than rejecting, so callers can say which tool to install.
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** The executable was not found (ENOENT). */
  missing: boolean;
}

export function runCommand(
  command: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') resolve({ code: null, signal: null, output: '', missing: true });
      else reject(error);
    });
    child.once('close', (code, signal) => {
      resolve({ code, signal, output: Buffer.concat(chunks).toString('utf8'), missing: false });
    });
  });
}

/** The last `count` non-empty lines of `text`, for error messages. */
export function lastLines(text: string, count: number): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-count)
    .join('\n');
}
