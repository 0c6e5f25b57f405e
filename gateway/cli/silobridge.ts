#!/usr/bin/env node
/**
 * The `silobridge` command: runs the gateway and the operator tasks around it. Each sub-command reads
 * the same environment configuration as the gateway (see README "Configuration").
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { createAuditLog } from '../audit/audit-log.js';
import { loadConfig } from '../foundation/config.js';
import { ConfigError } from '../foundation/errors.js';
import { createLogger } from '../foundation/logger.js';
import { migrationsDir, projectRoot } from '../foundation/paths.js';
import { existingGatewaySecret, resolveGatewaySecrets } from '../foundation/secrets.js';
import { listRegistrations } from '../registry/connector-registration-store.js';
import { runGatewayProcess } from '../server.js';
import type { Database } from '../storage/database.js';
import { migrate } from '../storage/migrations.js';
import { openDatabase } from '../storage/open-database.js';
import { registerAuditCommands } from './audit-commands.js';
import { registerConnectorCommands } from './connector-commands.js';
import { registerConnectorRegistrationCommands } from './connector-registration-commands.js';
import { registerIdentityCommands } from './identity-commands.js';
import { registerKafkaCommands } from './kafka-commands.js';
import { registerPolicyCommands } from './policy-commands.js';
import { registerVerifyCommand } from './verify-command.js';

const { version } = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
  version: string;
};

/**
 * The audit HMAC key registry changes are recorded with: the gateway's own. Only for the embedded
 * database may this command make it (the gateway then finds it in the same data folder); on
 * PostgreSQL a new random key would pin the log to a key no gateway has.
 */
async function registryAuditKey(): Promise<string> {
  const config = loadConfig();
  const existing = await existingGatewaySecret(config, 'hmacKey');
  if (existing !== undefined) return existing;
  if (config.databaseUrl === undefined) return (await resolveGatewaySecrets(config)).hmacKey;
  throw new ConfigError([
    'SILOBRIDGE_AUDIT_HMAC_KEY is not set: registry changes are audited with the gateway’s key, so ' +
      'give this command the same SILOBRIDGE_AUDIT_HMAC_KEY (or _FILE) as the gateways.',
  ]);
}

/** PostgreSQL's SQLSTATE for a table that does not exist. */
const UNDEFINED_TABLE = '42P01';

export function createProgram(): Command {
  const program = new Command('silobridge')
    .description('SiloBridge: the cross-department data-sharing gateway')
    .version(version);

  program
    .command('serve')
    .description('run the gateway (same as npm start)')
    .action(async () => {
      await runGatewayProcess();
    });

  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .action(async () => {
      const database = await openDatabase(loadConfig());
      try {
        const report = await migrate(database, migrationsDir);
        process.stdout.write(
          `${database.kind}: applied ${report.applied.length} migration(s)` +
            `${report.applied.length ? ` (${report.applied.join(', ')})` : ''}, ${report.alreadyApplied.length} already applied\n`,
        );
      } finally {
        await database.close();
      }
    });

  const registryCli = {
    config: loadConfig,
    // Registry changes made from the command line go into the same hash-chained audit log.
    auditRecorder: async (database: Database) =>
      createAuditLog({ database, hmacKey: await registryAuditKey(), logger: createLogger('warn') }),
  };
  registerIdentityCommands(program, registryCli);
  registerPolicyCommands(program);
  registerConnectorRegistrationCommands(registerConnectorCommands(program), {
    ...registryCli,
    gatewayConfig: loadConfig,
  });
  registerAuditCommands(program);
  registerKafkaCommands(program, {
    registeredDepartments: async () => {
      const database = await openDatabase(loadConfig());
      try {
        return (await listRegistrations(database)).map((registration) => registration.department);
      } catch (error) {
        // A database no gateway has started on yet (not migrated): nothing is registered.
        if ((error as { code?: string }).code === UNDEFINED_TABLE) return [];
        throw new Error(
          `cannot read the connector registrations (${(error as Error).message}); name the departments with --department <code...>`,
        );
      } finally {
        await database.close();
      }
    },
  });
  registerVerifyCommand(program);
  return program;
}

try {
  await createProgram().parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`silobridge: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
