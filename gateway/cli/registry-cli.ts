/**
 * What the registry's command-line tasks share (identities, connector registrations): the registry on
 * the configured database, changes recorded in the audit log as `cli:<user>`, one-line errors with
 * an exit code, and JSON output. They work on the database directly; with the embedded database the
 * gateway must not be running (the database lock refuses).
 */
import { userInfo } from 'node:os';
import type { AuditRecorder } from '../audit/audit-events.js';
import { ConfigError, GatewayError } from '../foundation/errors.js';
import { migrationsDir } from '../foundation/paths.js';
import { createRegistry, type Registry } from '../registry/registry.js';
import type { Database } from '../storage/database.js';
import { migrate } from '../storage/migrations.js';
import { openDatabase } from '../storage/open-database.js';

/** The part of the gateway configuration these commands read. */
export interface IdentityCliConfig {
  databaseUrl: string | undefined;
  dataDir: string;
  audience: string;
  maxTokenLifetimeSeconds: number;
}

export interface IdentityCliContext {
  /** Reads the configuration when a command runs (e.g. `configOrExit` in silobridge.ts). */
  config: () => IdentityCliConfig;
  /** Records registry changes made from the command line; default: JSON lines on stderr. */
  auditRecorder?: (database: Database) => AuditRecorder | Promise<AuditRecorder>;
  /** Output streams (tests capture them). */
  out?: (text: string) => void;
  err?: (text: string) => void;
}

const stderrAudit: AuditRecorder = {
  record: async (event) => {
    process.stderr.write(`${JSON.stringify({ audit: event })}\n`);
  },
};

/** Who ran the command, for the audit log (containers may have no user name for the uid). */
function operator(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

export function createRegistryCli(context: IdentityCliContext) {
  const out = context.out ?? ((text: string) => process.stdout.write(text));
  const err = context.err ?? ((text: string) => process.stderr.write(text));
  const actor = `cli:${operator()}`;
  const json = (value: unknown) => out(`${JSON.stringify(value, null, 2)}\n`);

  /** Runs a command; a failure prints one line (no stack) and sets exit code 1 (2: bad configuration). */
  const run =
    <A extends unknown[]>(work: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      try {
        await work(...args);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        err(`silobridge: ${message}${error instanceof GatewayError ? ` (${error.problem})` : ''}\n`);
        process.exitCode = error instanceof ConfigError ? 2 : 1;
      }
    };

  async function withRegistry<T>(
    work: (registry: Registry) => Promise<T>,
    options: { migrate?: boolean } = {},
  ) {
    const database = await openDatabase(context.config());
    try {
      if (options.migrate) await migrate(database, migrationsDir);
      const audit = (await context.auditRecorder?.(database)) ?? stderrAudit;
      return await work(createRegistry({ database, audit, refreshIntervalMs: 0 }));
    } finally {
      await database.close();
    }
  }

  return { out, err, actor, json, run, withRegistry };
}
