/**
 * `silobridge policy check <file|dir...>` validates policy files offline, exactly as the gateway
 * would load them (schema, cross-file checks, certificate types and fields), and exits 1 on any
 * problem. `silobridge policy effective <requester>` shows what a requester may see under them.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { departmentOf } from '../access/caller.js';
import { policiesDir, schemasDir } from '../foundation/paths.js';
import { loadCertificateFields } from '../policy/certificate-fields.js';
import { effectivePolicy } from '../policy/effective-policy.js';
import { formatPolicyProblem } from '../policy/policy-engine.js';
import { compilePolicies, policyFilesIn, readPolicySources } from '../policy/policy-loader.js';
import type { PolicyLoadResult } from '../policy/policy-types.js';
import { DEPARTMENT_CODE_PATTERN, SYSTEM_ID_PATTERN } from '../protocol/codes.js';

export interface PolicyCliContext {
  out?: (text: string) => void;
  err?: (text: string) => void;
}

async function expand(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const entry of paths) {
    if ((await stat(entry)).isDirectory()) files.push(...(await policyFilesIn(entry)));
    else files.push(path.resolve(entry));
  }
  return files;
}

async function compile(paths: string[], schemas: string | false): Promise<PolicyLoadResult> {
  const certificateFields = schemas === false ? undefined : await loadCertificateFields(schemas);
  return compilePolicies(
    await readPolicySources(await expand(paths)),
    certificateFields ? { certificateFields } : {},
  );
}

export function registerPolicyCommands(program: Command, context: PolicyCliContext = {}): void {
  const out = context.out ?? ((text: string) => process.stdout.write(text));
  const err = context.err ?? ((text: string) => process.stderr.write(text));
  const policy = program.command('policy').description('access policies (policies/)');

  policy
    .command('check <files...>')
    .description('validate policy files (or folders of them) offline; exit 1 on any problem')
    .option('--schemas <dir>', 'check certificate types and fields against these schemas', schemasDir)
    .option('--no-schemas', 'skip the certificate type and field checks')
    .action(async (files: string[], options: { schemas: string | false }) => {
      let result: PolicyLoadResult;
      try {
        result = await compile(files, options.schemas);
      } catch (error) {
        err(`silobridge: ${(error as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      if (!result.ok) {
        for (const problem of result.problems) err(`${formatPolicyProblem(problem)}\n`);
        err(`${result.problems.length} problem(s); nothing would be loaded.\n`);
        process.exitCode = 1;
        return;
      }
      const { set } = result;
      out(
        `ok: ${set.files.length} policy file(s), ${set.grants.length} grant(s), revision ${set.revision}` +
          `${options.schemas === false ? ' (certificate types and fields not checked)' : ''}\n`,
      );
    });

  policy
    .command('effective <requester>')
    .description('what a system (<department>/<system>) or a department may see under the policies')
    .option('--dir <dir>', 'the policies folder', policiesDir)
    .option('--at <time>', 'evaluate at this date or time (default: now)')
    .action(async (requester: string, options: { dir: string; at?: string }) => {
      const at = options.at ? Date.parse(options.at) : Date.now();
      const who = SYSTEM_ID_PATTERN.test(requester)
        ? { department: departmentOf(requester), system: requester }
        : DEPARTMENT_CODE_PATTERN.test(requester)
          ? { department: requester }
          : undefined;
      if (!who || Number.isNaN(at)) {
        err('silobridge: give a system id or department code, and --at as an ISO date or time.\n');
        process.exitCode = 1;
        return;
      }
      const result = await compile([options.dir], schemasDir);
      if (!result.ok) {
        for (const problem of result.problems) err(`${formatPolicyProblem(problem)}\n`);
        process.exitCode = 1;
        return;
      }
      out(`${JSON.stringify(effectivePolicy(result.set, who, at), null, 2)}\n`);
    });
}
