/**
 * Loads a connector configuration file (YAML or JSON) into a ConnectorConfig: checked against
 * schemas/connector-config.schema.json, against the certificate catalog when one is given, and against
 * the world it names (environment variables, secret files, the signing key file). Every mistake found
 * is reported at once, in a ConnectorConfigError naming the file, line and setting of each.
 */
import path from 'node:path';
import { SYSTEM_ID_PATTERN } from '../../gateway/protocol/codes.js';
import type { DepartmentSigner } from '../../gateway/protocol/department-signature.js';
import { type CatalogView, catalogMistakes, certificateShape } from './catalog-check.js';
import { type ConfigPath, type ConfigProblem, ConnectorConfigError, formatPath } from './config-problems.js';
import { schemaProblems } from './config-schema.js';
import { type ConfigSource, readConfigSource } from './config-source.js';
import { type Env, resolveValue } from './config-values.js';
import type {
  CertificateSource,
  CertificateTypeFile,
  ConnectorConfig,
  ConnectorConfigFile,
} from './connector-config.js';
import { readPrivateJwkFile, SigningKeyError, signerFromJwk } from './signing-key.js';

// As the schema's keyId pattern: a key id the schema refused is reported there, not again here.
const KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface LoadConnectorConfigOptions {
  /** Where `{ fromEnv: NAME }` values come from; default process.env. */
  env?: Env;
  /**
   * The certificate catalog (the gateway's SchemaCatalog fits): checks type names, schema versions,
   * fields and identifiers, and supplies each PostgreSQL source's default `requiredFields`.
   */
  catalog?: CatalogView;
}

export async function loadConnectorConfig(
  file: string,
  options: LoadConnectorConfigOptions = {},
): Promise<ConnectorConfig> {
  const source = await readConfigSource(file);
  const problems = new Problems();
  if (source.data === null || source.data === undefined) {
    problems.add(
      source.problem([], 'the file is empty: it needs department, system, signingKey and certificateTypes'),
    );
    throw problems.error(source.file);
  }
  for (const problem of schemaProblems(source)) problems.add(problem);
  if (options.catalog) {
    for (const mistake of catalogMistakes(source.data, options.catalog)) {
      problems.add(source.problem(mistake.path, mistake.message));
    }
  }
  const raw = asObject(source.data) ?? {};
  checkSystem(raw, source, problems);
  checkRequiredFields(raw, source, problems);
  const values = resolveValues(raw, source, options.env ?? process.env, problems);
  const signer = await readSigner(raw, source, problems);
  if (problems.size > 0 || !signer) throw problems.error(source.file);

  const written = source.data as ConnectorConfigFile;
  return {
    file: source.file,
    department: written.department,
    system: written.system,
    signingKeyFile: path.resolve(source.dir, written.signingKey),
    signer,
    instanceId: written.instanceId,
    topicPrefix: written.topicPrefix,
    concurrency: written.concurrency,
    heartbeatIntervalMs: written.heartbeatIntervalMs,
    handlerTimeoutMs: written.handlerTimeoutMs,
    kafkaBrokers: written.kafka?.brokers,
    certificateTypes: Object.fromEntries(
      Object.entries(written.certificateTypes).map(([type, entry]) => [
        type,
        certificateSource(type, entry, values, options.catalog),
      ]),
    ),
  };
}

/** Problems in the order of the file (file-wide ones first); one per setting from the later checks. */
class Problems {
  private readonly list: ConfigProblem[] = [];
  get size(): number {
    return this.list.length;
  }
  add(problem: ConfigProblem): void {
    this.list.push(problem);
  }
  /** A later check's finding about a setting the schema already faulted adds nothing new. */
  addUnlessPlaced(problem: ConfigProblem): void {
    if (!this.list.some((known) => known.path === problem.path)) this.list.push(problem);
  }
  error(file: string): ConnectorConfigError {
    const sorted = this.list
      .map((problem, index) => ({ problem, index }))
      .sort(
        (a, b) =>
          (a.problem.line ?? 0) - (b.problem.line ?? 0) ||
          (a.problem.column ?? 0) - (b.problem.column ?? 0) ||
          a.index - b.index,
      )
      .map(({ problem }) => problem);
    return new ConnectorConfigError(file, sorted);
  }
}

/** The signing system belongs to the department the connector serves. */
function checkSystem(raw: Record<string, unknown>, source: ConfigSource, problems: Problems): void {
  const { department, system } = raw;
  if (typeof department !== 'string' || typeof system !== 'string' || !SYSTEM_ID_PATTERN.test(system)) return;
  const owner = system.slice(0, system.indexOf('/'));
  if (owner !== department) {
    problems.addUnlessPlaced(
      source.problem(
        ['system'],
        `belongs to department ${owner}, not ${department}: a connector signs as one of its own department's systems`,
      ),
    );
  }
}

/** A PostgreSQL source can only always send the fields it has columns for. */
function checkRequiredFields(raw: Record<string, unknown>, source: ConfigSource, problems: Problems): void {
  for (const [type, entry] of Object.entries(asObject(raw.certificateTypes) ?? {})) {
    const postgres = asObject(asObject(entry)?.postgres);
    const columns = asObject(postgres?.recordColumns);
    if (!postgres || !columns || !Array.isArray(postgres.requiredFields)) continue;
    postgres.requiredFields.forEach((field, index) => {
      if (typeof field === 'string' && !(field in columns)) {
        problems.addUnlessPlaced(
          source.problem(
            ['certificateTypes', type, 'postgres', 'requiredFields', index],
            `"${field}" has no column in recordColumns: map it there, or leave it out of requiredFields`,
          ),
        );
      }
    });
  }
}

/** Resolved values of the settings that may name an environment variable or a file, by path. */
function resolveValues(
  raw: Record<string, unknown>,
  source: ConfigSource,
  env: Env,
  problems: Problems,
): Map<string, string> {
  const resolved = new Map<string, string>();
  const found: ConfigProblem[] = [];
  const resolve = (setting: unknown, at: ConfigPath) => {
    const value = resolveValue(setting, at, { source, env, problems: found });
    if (value !== undefined) resolved.set(formatPath(at), value);
  };
  for (const [type, entry] of Object.entries(asObject(raw.certificateTypes) ?? {})) {
    const at = ['certificateTypes', type];
    const postgres = asObject(asObject(entry)?.postgres);
    if (postgres) resolve(postgres.connectionString, [...at, 'postgres', 'connectionString']);
    const headers = asObject(asObject(asObject(entry)?.http)?.headers);
    for (const [name, setting] of Object.entries(headers ?? {}))
      resolve(setting, [...at, 'http', 'headers', name]);
  }
  for (const problem of found) problems.addUnlessPlaced(problem);
  return resolved;
}

/** The key file is read and checked whenever it is named; the signer needs a valid system too. */
async function readSigner(
  raw: Record<string, unknown>,
  source: ConfigSource,
  problems: Problems,
): Promise<DepartmentSigner | undefined> {
  const { signingKey, system, keyId } = raw;
  if (typeof signingKey !== 'string' || signingKey === '') return undefined;
  const keyFile = path.resolve(source.dir, signingKey);
  try {
    const jwk = await readPrivateJwkFile(keyFile);
    if (typeof system !== 'string' || !SYSTEM_ID_PATTERN.test(system)) return undefined;
    if (keyId !== undefined && (typeof keyId !== 'string' || !KEY_ID.test(keyId))) return undefined;
    return signerFromJwk(jwk, { systemId: system, keyFile, keyId });
  } catch (error) {
    if (!(error instanceof SigningKeyError)) throw error;
    const kidMissing = error.setting === 'keyId' && keyId === undefined;
    problems.addUnlessPlaced(
      source.problem(
        [error.setting === 'keyId' && !kidMissing ? 'keyId' : 'signingKey'],
        kidMissing ? `${error.message}, as keyId` : error.message,
      ),
    );
    return undefined;
  }
}

function certificateSource(
  type: string,
  entry: CertificateTypeFile,
  values: Map<string, string>,
  catalog: CatalogView | undefined,
): CertificateSource {
  const at = ['certificateTypes', type];
  const value = (...rest: string[]) => values.get(formatPath([...at, ...rest])) as string;
  if (entry.postgres) {
    const { connectionString: _written, subjectColumns, requiredFields, ...rest } = entry.postgres;
    return {
      kind: 'postgres',
      schemaVersion: entry.schemaVersion,
      postgres: {
        ...rest,
        connectionString: value('postgres', 'connectionString'),
        subjectColumns: Object.fromEntries(
          Object.entries(subjectColumns).map(([identifier, columns]) => [
            identifier,
            typeof columns === 'string' ? [columns] : columns,
          ]),
        ),
        requiredFields:
          requiredFields ?? (catalog && certificateShape(catalog, type, entry.schemaVersion)?.requiredFields),
      },
    };
  }
  const http = entry.http as NonNullable<CertificateTypeFile['http']>;
  return {
    kind: 'http',
    schemaVersion: entry.schemaVersion,
    http: {
      baseUrl: http.baseUrl,
      paths: typeof http.path === 'string' ? [http.path] : http.path,
      timeoutMs: http.timeoutMs,
      headers: Object.fromEntries(
        Object.keys(http.headers ?? {}).map((name) => [name, value('http', 'headers', name)]),
      ),
      response: { record: http.response?.record ?? '', fields: http.response?.fields },
    },
  };
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
