/**
 * `silobridge audit report --gateway <url> --system <id> --key <file> --subject <type...>`: the
 * data-subject report ("who accessed this person's or company's records") for officers who prefer a
 * terminal. It asks the gateway as the officer's `audit` system, exactly as the console does, so the
 * report is recorded in the audit log like any other. The identifier values are read from standard
 * input (one per line, in the order of --subject; prompted for on a terminal), never taken from the
 * command line, where shell history and the process list would keep them.
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { LOOKUP_OUTCOMES } from '../access/lookup-terms.js';
import type { SubjectAccess } from '../audit/audit-subjects.js';
import { readKeyFile } from '../identity/key-files.js';
import { privateSigningKey } from '../identity/system-keys.js';
import { signToken } from '../identity/token-signer.js';

export interface SubjectReportDependencies {
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  setExitCode?: (code: number) => void;
  fetch?: typeof fetch;
}

interface ReportOptions {
  gateway: string;
  system: string;
  key: string;
  subject: string[];
  from?: string;
  to?: string;
  outcome?: string[];
  audience: string;
  json?: boolean;
}

const IDENTIFIER_TYPE = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
/** Pages of the report the command follows; more is a sign the identifier is not one person's. */
const MAX_PAGES = 100;

async function readValues(types: string[], deps: SubjectReportDependencies): Promise<Record<string, string>> {
  const input = deps.stdin ?? process.stdin;
  const prompt = input.isTTY === true;
  const lines = createInterface({
    input,
    output: prompt ? (deps.stderr ?? process.stderr) : undefined,
    terminal: prompt,
  });
  const subject: Record<string, string> = {};
  try {
    const iterator = lines[Symbol.asyncIterator]();
    for (const type of types) {
      if (prompt) (deps.stderr ?? process.stderr).write(`${type}: `);
      const next = await iterator.next();
      const value = next.done ? '' : String(next.value).trim();
      if (!value) throw new Error(`no value for ${type} on standard input (one identifier per line)`);
      subject[type] = value;
    }
  } finally {
    lines.close();
  }
  return subject;
}

function problemMessage(status: number, body: unknown): string {
  if (body && typeof body === 'object') {
    const problem = body as {
      title?: string;
      detail?: string;
      errors?: Array<{ pointer?: string; reason?: string }>;
    };
    const errors = (problem.errors ?? []).map((error) => `\n  ${error.pointer ?? ''}: ${error.reason ?? ''}`);
    return `${status} ${problem.title ?? ''}: ${problem.detail ?? ''}${errors.join('')}`;
  }
  return `HTTP ${status}`;
}

function formatAccesses(accesses: SubjectAccess[]): string {
  const header = ['time', 'requester', 'matter', 'case', 'officer', 'certificate', 'provider', 'outcome'];
  const rows = accesses.map((access) => [
    access.at,
    typeof access.requester === 'object' && access.requester
      ? String(
          (access.requester as { system?: string; department?: string }).system ??
            (access.requester as { department?: string }).department,
        )
      : '',
    access.matter ?? '',
    access.caseRef ?? '',
    access.officer ?? '',
    access.certificateType ?? '',
    access.provider ?? '',
    access.outcome ?? '',
  ]);
  // Audit fields are whatever callers sent: never let one rewrite the terminal.
  const clean = (text: string) => text.replace(/[\p{Cc}\p{Cf}]/gu, '?');
  const table = [header, ...rows].map((row) => row.map(clean));
  const widths = header.map((_, column) => Math.max(...table.map((row) => (row[column] ?? '').length)));
  const lines = table.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n${accesses.length} access(es)\n`;
}

export function registerSubjectReportCommand(audit: Command, deps: SubjectReportDependencies = {}): void {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const exit =
    deps.setExitCode ??
    ((code: number) => {
      process.exitCode = code;
    });

  audit
    .command('report')
    .description(
      "who accessed a person's or company's records, asked of the gateway as your audit system; " +
        'identifier values are read from standard input, one per line, never from the command line',
    )
    .requiredOption('--gateway <url>', 'the gateway, e.g. https://silobridge.example.gov.cn')
    .requiredOption('--system <id>', 'your audit system, e.g. data-office/audit-console')
    .requiredOption('--key <file>', "the system's private JWK file")
    .requiredOption(
      '--subject <type...>',
      'identifier types, e.g. residentIdNumber or unifiedSocialCreditCode (values from standard input)',
    )
    .option('--from <time>', 'only accesses at or after this time (ISO 8601)')
    .option('--to <time>', 'only accesses before this time (ISO 8601)')
    .option('--outcome <outcome...>', `only these outcomes (${LOOKUP_OUTCOMES.join(', ')})`)
    .option('--audience <aud>', "the gateway's token audience", 'silobridge')
    .option('--json', 'print the accesses as JSON')
    .action(async (options: ReportOptions) => {
      try {
        const bad = options.subject.find((type) => !IDENTIFIER_TYPE.test(type));
        if (bad !== undefined)
          throw new Error(`--subject takes identifier types such as residentIdNumber, not '${bad}'`);
        const base = new URL(options.gateway);
        const key = await privateSigningKey(await readKeyFile(options.key));
        const subject = await readValues(options.subject, deps);
        const call = deps.fetch ?? fetch;
        const accesses: SubjectAccess[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < MAX_PAGES; page += 1) {
          const token = signToken({
            systemId: options.system,
            key,
            audience: options.audience,
            lifetimeSeconds: 60,
          });
          const response = await call(new URL('/v1/audit/subjects/report', base), {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
            body: JSON.stringify({
              subject,
              ...(options.from ? { from: options.from } : {}),
              ...(options.to ? { to: options.to } : {}),
              ...(options.outcome ? { outcome: options.outcome } : {}),
              limit: 500,
              ...(cursor ? { cursor } : {}),
            }),
          });
          const body = (await response.json().catch(() => undefined)) as
            | { accesses: SubjectAccess[]; nextCursor: string | null }
            | undefined;
          if (!response.ok || !body) throw new Error(problemMessage(response.status, body));
          accesses.push(...body.accesses);
          if (!body.nextCursor) break;
          cursor = body.nextCursor;
        }
        stdout.write(options.json ? `${JSON.stringify({ accesses }, null, 2)}\n` : formatAccesses(accesses));
      } catch (error) {
        stderr.write(`silobridge audit report: ${(error as Error).message}\n`);
        exit(2);
      }
    });
}
