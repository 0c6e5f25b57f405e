/**
 * `silobridge audit ...` run in the test's process as an operator runs it, with the configuration
 * the test gives; resolves with the exit code and what the command printed.
 */
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { type AuditCommandDependencies, registerAuditCommands } from '../../gateway/cli/audit-commands.js';

export type AuditCliConfig = Omit<AuditCommandDependencies, 'stdout' | 'stderr' | 'setExitCode'>;

export async function runAuditCli(
  config: AuditCliConfig,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  let code = 0;
  const program = new Command('silobridge').exitOverride();
  registerAuditCommands(program, {
    ...config,
    stdout,
    stderr,
    setExitCode: (exitCode) => {
      code = exitCode;
    },
  });
  await program.parseAsync(['node', 'silobridge', 'audit', ...args]);
  return { code, stdout: out, stderr: err };
}
