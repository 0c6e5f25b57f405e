/**
 * `silobridge kafka acls`: the Kafka ACLs that fence each department's connectors in, and give the
 * gateway its own rights (gateway/bus/kafka-acls.ts). Prints them as a table, or JSON with --json;
 * --apply creates the missing ones on the brokers in KAFKA_BROKERS, logged in with KAFKA_SASL_* as a
 * principal that may manage ACLs, and --prune also removes the fences of departments not listed.
 */
import type { Command } from 'commander';
import {
  type AclBinding,
  type ApplyAclsReport,
  applyAclsToCluster,
  DEFAULT_GATEWAY_PRINCIPAL,
  departmentAclBindings,
  type KafkaAcl,
} from '../bus/kafka-acls.js';
import { type GatewayConfig, loadConfig } from '../foundation/config.js';
import { ConfigError } from '../foundation/errors.js';
import { createLogger } from '../foundation/logger.js';
import { DEPARTMENT_CODE_PATTERN } from '../protocol/codes.js';

export interface KafkaCliContext {
  config?: () => GatewayConfig;
  /** The departments with a connector registration: the default when --department is not given. */
  registeredDepartments?: () => Promise<string[]>;
  out?: (text: string) => void;
}

interface AclsOptions {
  department?: string[];
  apply?: boolean;
  prune?: boolean;
  json?: boolean;
  gatewayPrincipal: string;
  connectorPrincipalPrefix: string;
}

const DEFAULT_CONNECTOR_PRINCIPAL_PREFIX = 'connector-';

export function registerKafkaCommands(program: Command, context: KafkaCliContext = {}): void {
  const config = context.config ?? loadConfig;
  const out = context.out ?? ((text: string) => process.stdout.write(text));
  const kafka = program.command('kafka').description('Kafka set-up for gateways and department connectors');

  kafka
    .command('acls')
    .description(
      'print (or with --apply, create) the Kafka ACLs of the gateway and of each department’s connectors',
    )
    .option(
      '--department <code...>',
      'the departments whose connectors get ACLs (default: every registered connector)',
    )
    .option('--apply', 'create the missing ACLs on KAFKA_BROKERS (as KAFKA_SASL_USERNAME, a super user)')
    .option('--prune', 'with --apply: also remove the ACLs of connector principals of departments not listed')
    .option('--json', 'print JSON instead of a table')
    .option('--gateway-principal <name>', 'the SASL user of the gateways', DEFAULT_GATEWAY_PRINCIPAL)
    .option(
      '--connector-principal-prefix <text>',
      'a connector’s SASL user is this followed by its department code',
      DEFAULT_CONNECTOR_PRINCIPAL_PREFIX,
    )
    .action(async (options: AclsOptions) => {
      const departments = options.department ?? (await context.registeredDepartments?.()) ?? [];
      if (departments.length === 0) {
        // The gateway's own ACLs do not depend on departments, and must exist before it first starts.
        process.stderr.write(
          'silobridge: no connector is registered and no --department <code...> was given: the gateway’s ACLs only\n',
        );
      }
      if (options.prune && !options.apply) throw new Error('--prune works only with --apply.');
      const settings = config();
      const bindings = departmentAclBindings({
        topicPrefix: settings.topicPrefix,
        departments,
        gatewayPrincipal: options.gatewayPrincipal,
        connectorPrincipal: (department) => `${options.connectorPrincipalPrefix}${department}`,
      });
      const applied = options.apply ? await apply(settings, bindings, options) : undefined;
      if (options.json) {
        out(
          `${JSON.stringify({ topicPrefix: settings.topicPrefix, bindings, ...(applied && { applied }) }, null, 2)}\n`,
        );
        return;
      }
      out(aclTable(bindings));
      if (applied) out(applySummary(settings, applied));
    });
}

async function apply(settings: GatewayConfig, bindings: AclBinding[], options: AclsOptions) {
  if (settings.kafkaBrokers.length === 0) {
    throw new ConfigError(['KAFKA_BROKERS is not set: --apply creates the ACLs on those brokers.']);
  }
  const principalPrefix = `User:${options.connectorPrincipalPrefix}`;
  return applyAclsToCluster(
    {
      brokers: settings.kafkaBrokers,
      clientId: 'silobridge-kafka-acls',
      security: settings.kafkaSecurity,
      logger: createLogger(settings.logLevel).child({ component: 'kafka' }),
    },
    bindings,
    options.prune
      ? {
          removeStale: {
            topicPrefix: settings.topicPrefix,
            isConnectorPrincipal: (principal) =>
              principal.startsWith(principalPrefix) &&
              DEPARTMENT_CODE_PATTERN.test(principal.slice(principalPrefix.length)),
          },
        }
      : {},
  );
}

const COLUMNS: Array<[string, (acl: KafkaAcl) => string]> = [
  ['PRINCIPAL', (acl) => acl.principal],
  ['PERMISSION', (acl) => acl.permission],
  ['OPERATION', (acl) => acl.operation],
  ['RESOURCE', (acl) => acl.resourceType],
  ['PATTERN', (acl) => acl.patternType],
  ['NAME', (acl) => acl.resourceName],
  ['HOST', (acl) => acl.host],
];

/** One line per ACL, in columns padded to their widest cell. */
export function aclTable(acls: readonly KafkaAcl[]): string {
  const rows = [COLUMNS.map(([title]) => title), ...acls.map((acl) => COLUMNS.map(([, cell]) => cell(acl)))];
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

function applySummary(settings: GatewayConfig, applied: ApplyAclsReport): string {
  const summary =
    `\napplied to ${settings.kafkaBrokers.join(',')}: ${applied.added.length} ACL(s) added, ` +
    `${applied.alreadyPresent.length} already present, ${applied.removed.length} removed\n`;
  return applied.removed.length > 0 ? `${summary}removed:\n${aclTable(applied.removed)}` : summary;
}
