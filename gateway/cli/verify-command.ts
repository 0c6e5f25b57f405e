/**
 * `silobridge verify <response.json> --department-keys <jwks> [--gateway-keys <jwks>]`: checks a saved
 * lookup response offline, with published keys only (gateway/signing/lookup-response-verifier.ts).
 * Exit 0 when every check passed, 1 when one failed, 2 when a file cannot be read.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { JsonWebKeySet } from '../signing/jws.js';
import { verifySavedLookupResponse } from '../signing/lookup-response-verifier.js';

async function readJson(file: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (error) {
    throw new Error(`cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? 'not JSON'}`);
  }
}

async function readKeySet(file: string, what: string): Promise<JsonWebKeySet> {
  const value = await readJson(file, what);
  if (typeof value !== 'object' || value === null || !Array.isArray((value as JsonWebKeySet).keys)) {
    throw new Error(`${what} ${file} is not a JWKS ({"keys": [...]})`);
  }
  return value as JsonWebKeySet;
}

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify <response>')
    .description(
      'check a saved lookup response offline: which department issued each field, and the gateway signature',
    )
    .requiredOption(
      '--department-keys <file>',
      'the departments’ published keys (GET /.well-known/department-jwks.json)',
    )
    .option('--gateway-keys <file>', 'the gateway’s published keys (GET /.well-known/jwks.json)')
    .option('--json', 'the report as JSON')
    .action(
      async (file: string, options: { departmentKeys: string; gatewayKeys?: string; json?: boolean }) => {
        let report: Awaited<ReturnType<typeof verifySavedLookupResponse>>;
        try {
          report = await verifySavedLookupResponse(await readJson(file, 'response'), {
            departmentKeys: await readKeySet(options.departmentKeys, 'department keys'),
            ...(options.gatewayKeys
              ? { gatewayKeys: await readKeySet(options.gatewayKeys, 'gateway keys') }
              : {}),
          });
        } catch (error) {
          process.stderr.write(`silobridge: ${(error as Error).message}\n`);
          process.exitCode = 2;
          return;
        }
        if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else {
          const lines = [
            ...report.verified.map((line) => `ok      ${line}`),
            ...report.masked.map(
              (field) => `masked  field '${field}': released masked by policy, so not the department's value`,
            ),
            ...report.withheld.map(
              (field) => `withheld field '${field}': signed by the department, not released to you`,
            ),
            ...report.failures.map((line) => `FAILED  ${line}`),
            report.ok ? 'VERIFIED' : 'NOT VERIFIED',
          ];
          process.stdout.write(`${lines.join('\n')}\n`);
        }
        process.exitCode = report.ok ? 0 : 1;
      },
    );
}
