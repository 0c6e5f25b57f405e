/**
 * `silobridge audit ...`: the operator's and the data officer's tools for the audit log.
 *   verify [--file export.ndjson] [--jwks jwks.json] [--checkpoints held.ndjson] [--json]
 *          [--against <file, folder or URL>...]
 *       recompute the chain and check the checkpoints; exit 1 naming the first event altered,
 *       removed or reordered (2 if it could not run). --against: checkpoints kept outside the
 *       database (saved responses, the feed, the topic dump, the checkpoint files) say whether the
 *       log was truncated or rewritten, and which events no signed checkpoint covers yet
 *   checkpoints [--from-kafka] [--out file]   the signed checkpoints as NDJSON (audit-checkpoint-commands.ts)
 *   export --out file.ndjson   events + checkpoints + public keys, verifiable offline with verify --file
 *   checkpoint                 sign the current chain head now
 *   rotate-signing-key         new gateway signing key; the old one stays published
 *   report --gateway --system --key --subject <type...>   the data-subject report, asked of a
 *       running gateway as an audit system (subject-report-command.ts)
 * All but `report` read the gateway's configuration (DATABASE_URL, SILOBRIDGE_DATA_DIR, secrets) from the environment.
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { checkpointHead } from '../audit/audit-checkpoints.js';
import { exportAuditLog } from '../audit/audit-export.js';
import { createAuditLog } from '../audit/audit-log.js';
import { checkpointsFromNdjson, verifyAuditLog, verifyExport } from '../audit/audit-verify.js';
import type { HeldCheckpoint } from '../audit/audit-witness.js';
import type { VerifyReport } from '../audit/chain-verifier.js';
import { readHeldCheckpoints } from '../audit/checkpoint-sources.js';
import { type GatewayConfig, loadConfig } from '../foundation/config.js';
import { ConfigError } from '../foundation/errors.js';
import { createLogger } from '../foundation/logger.js';
import { existingGatewaySecret, type SecretsConfig } from '../foundation/secrets.js';
import type { JsonWebKeySet } from '../signing/jws.js';
import { openSigningKeyRing } from '../signing/signing-keys.js';
import type { Database } from '../storage/database.js';
import { openDatabase } from '../storage/open-database.js';
import {
  formatWitness,
  type KafkaReaderConfig,
  registerCheckpointCommand,
} from './audit-checkpoint-commands.js';
import { registerSubjectReportCommand, type SubjectReportDependencies } from './subject-report-command.js';

type CliConfig = Pick<GatewayConfig, 'databaseUrl'> & SecretsConfig;

export interface AuditCommandDependencies extends Pick<SubjectReportDependencies, 'stdin' | 'fetch'> {
  loadConfig?: () => CliConfig;
  /** The brokers and topic prefix (`audit checkpoints --from-kafka`); default the environment. */
  loadKafkaConfig?: () => KafkaReaderConfig;
  openDatabase?: (config: CliConfig) => Promise<Database>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Default: sets process.exitCode. */
  setExitCode?: (code: number) => void;
}

/** Exit codes: 0 verified, 1 the log was tampered with, 2 the command could not run. */
export const EXIT_TAMPERED = 1;
export const EXIT_FAILED = 2;

export function formatVerifyReport(report: VerifyReport, source: string): string {
  const checkpoints = `${report.checkpoints.verified} of ${report.checkpoints.total} checkpoint(s) verified`;
  const head = report.head ? `head #${report.head.sequence} ${report.head.hash}` : 'empty';
  const witness = report.witness ? formatWitness(report.witness) : '';
  if (report.ok)
    return `${source}: audit log intact: ${report.events} event(s), ${head}; ${checkpoints}\n${witness}`;
  const lines = [`${source}: AUDIT LOG TAMPERED: ${report.firstProblem?.message ?? 'see below'}`];
  for (const problem of report.problems) lines.push(`  - [${problem.kind}] ${problem.message}`);
  if (report.problemsTruncated) lines.push('  - ... and more');
  lines.push(`${report.events} event(s) read, ${head}; ${checkpoints}`);
  return `${lines.join('\n')}\n${witness}`;
}

interface VerifyCommandOptions {
  file?: string;
  jwks?: string;
  checkpoints?: string;
  against?: string[];
  json?: boolean;
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

export function registerAuditCommands(program: Command, deps: AuditCommandDependencies = {}): void {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const config = () => (deps.loadConfig ?? loadConfig)();
  const open = deps.openDatabase ?? openDatabase;
  const exit =
    deps.setExitCode ??
    ((code: number) => {
      process.exitCode = code;
    });

  /** Runs `work` with the database, turning failures into a message and exit code 2. */
  const withDatabase = async (work: (database: Database, config: CliConfig) => Promise<void>) => {
    let database: Database | undefined;
    try {
      const loaded = config();
      database = await open(loaded);
      await work(database, loaded);
    } catch (error) {
      stderr.write(
        `silobridge audit: ${error instanceof ConfigError ? error.message : (error as Error).message}\n`,
      );
      exit(EXIT_FAILED);
    } finally {
      await database?.close();
    }
  };

  const signingSecret = (loaded: CliConfig) => existingGatewaySecret(loaded, 'signingKeySecret');

  const audit = program
    .command('audit')
    .description('verify, export and manage the tamper-evident audit log; subject reports');
  registerSubjectReportCommand(audit, deps);

  audit
    .command('verify')
    .description(
      'recompute the hash chain and check the signed checkpoints; exit 1 naming the first bad event',
    )
    .option('--file <export>', 'verify an export file offline instead of the database')
    .option(
      '--jwks <file>',
      'check checkpoint signatures with this JWKS instead of the keys stored with the log',
    )
    .option(
      '--checkpoints <file>',
      'also check checkpoints held elsewhere (NDJSON lines with a "jws", e.g. an earlier export)',
    )
    .option(
      '--against <source...>',
      'checkpoints held outside the database: files (NDJSON, saved lookup responses, the topic dump), folders (the checkpoint folder) or http(s) URLs (the public feed)',
    )
    .option('--json', 'print the report as JSON')
    .action(async (options: VerifyCommandOptions) => {
      const run = async (
        verify: (opts: {
          jwks?: JsonWebKeySet;
          extraCheckpoints?: string[];
          held?: HeldCheckpoint[];
        }) => Promise<VerifyReport>,
      ) => {
        const jwks = options.jwks ? await readJson<JsonWebKeySet>(options.jwks) : undefined;
        const extraCheckpoints = options.checkpoints
          ? checkpointsFromNdjson(await readFile(options.checkpoints, 'utf8'))
          : undefined;
        let held: HeldCheckpoint[] | undefined;
        if (options.against) {
          held = [];
          for (const source of options.against)
            held.push(...(await readHeldCheckpoints(source, { fetch: deps.fetch })));
          if (!jwks)
            stderr.write(
              'silobridge audit: checkpoint signatures are checked with the keys stored with the log; ' +
                'give --jwks <a copy of /.well-known/jwks.json saved earlier> to trust only keys published before\n',
            );
        }
        const report = await verify({ jwks, extraCheckpoints, held });
        stdout.write(
          options.json
            ? `${JSON.stringify(report, null, 2)}\n`
            : formatVerifyReport(report, options.file ?? 'database'),
        );
        if (!report.ok) exit(EXIT_TAMPERED);
      };
      if (options.file) {
        const file = options.file;
        try {
          await run((opts) =>
            verifyExport(
              createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY }),
              opts,
            ),
          );
        } catch (error) {
          stderr.write(`silobridge audit: ${(error as Error).message}\n`);
          exit(EXIT_FAILED);
        }
        return;
      }
      await withDatabase((database) => run((opts) => verifyAuditLog(database, opts)));
    });

  registerCheckpointCommand(audit, {
    loadKafkaConfig: deps.loadKafkaConfig,
    withDatabase: (work) => withDatabase((database) => work(database)),
    stdout,
    stderr,
    fail: (message) => {
      stderr.write(`silobridge audit: ${message}\n`);
      exit(EXIT_FAILED);
    },
  });

  audit
    .command('export')
    .description(
      'write the log as NDJSON with its checkpoints and public keys, verifiable offline (verify --file)',
    )
    .requiredOption('--out <file>', "where to write it ('-' for standard output)")
    .option('--no-checkpoint', 'do not sign the current head first')
    .action(async (options: { out: string; checkpoint: boolean }) => {
      await withDatabase(async (database, loaded) => {
        if (options.checkpoint) {
          const secret = await signingSecret(loaded);
          if (secret) {
            const keys = await openSigningKeyRing({ database, secret });
            try {
              await checkpointHead(database, keys, {
                force: true,
                every: 1,
                intervalMs: 0,
                lockTimeoutMs: 10_000,
              });
            } finally {
              keys.close();
            }
          } else {
            stderr.write(
              'silobridge audit: no SILOBRIDGE_SIGNING_KEY_SECRET, so the current head is not signed first.\n',
            );
          }
        }
        const out = options.out === '-' ? stdout : createWriteStream(options.out, { mode: 0o600 });
        const summary = await exportAuditLog(database, async (line) => {
          if (!out.write(line)) await once(out, 'drain');
        });
        if (out !== stdout) {
          (out as NodeJS.WritableStream).end();
          await once(out, 'finish');
        }
        stderr.write(
          `silobridge audit: exported ${summary.events} event(s) and ${summary.checkpoints} checkpoint(s)` +
            `${summary.head ? ` up to #${summary.head.sequence}` : ''}${options.out === '-' ? '' : ` to ${options.out}`}\n`,
        );
      });
    });

  audit
    .command('checkpoint')
    .description('sign the current chain head now')
    .action(async () => {
      await withDatabase(async (database, loaded) => {
        const secret = await signingSecret(loaded);
        if (!secret)
          throw new Error('set SILOBRIDGE_SIGNING_KEY_SECRET (the gateway signing key secret) to sign');
        const keys = await openSigningKeyRing({ database, secret });
        try {
          const checkpoint = await checkpointHead(database, keys, {
            force: true,
            every: 1,
            intervalMs: 0,
            lockTimeoutMs: 10_000,
          });
          stdout.write(
            checkpoint
              ? `signed event ${checkpoint.sequence} ${checkpoint.hash} (kid ${checkpoint.kid})\n`
              : 'the head is already signed\n',
          );
        } finally {
          keys.close();
        }
      });
    });

  audit
    .command('rotate-signing-key')
    .description(
      'make a new gateway signing key; the old one stays in the JWKS so its signatures still verify',
    )
    .action(async () => {
      await withDatabase(async (database, loaded) => {
        const secret = await signingSecret(loaded);
        if (!secret)
          throw new Error('set SILOBRIDGE_SIGNING_KEY_SECRET (the gateway signing key secret) to rotate');
        const keys = await openSigningKeyRing({ database, secret });
        try {
          const previous = keys.activeKid;
          const kid = await keys.rotate();
          const hmacKey = await existingGatewaySecret(loaded, 'hmacKey');
          if (hmacKey) {
            const log = await createAuditLog({ database, hmacKey, logger: createLogger('silent') });
            await log.record({
              kind: 'audit-access',
              at: new Date().toISOString(),
              actor: 'operator',
              action: 'signing-key-rotated',
              target: kid,
              details: { previous },
            });
            await log.close();
          }
          stdout.write(`new signing key ${kid}; ${previous} retired (still published)\n`);
        } finally {
          keys.close();
        }
      });
    });
}
