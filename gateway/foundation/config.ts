/**
 * The gateway's configuration, parsed once from the environment at start. Nothing else reads
 * `process.env`. A bad value stops start-up with a message naming the variable and what it allows.
 */
import { randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors.js';
import { policiesDir } from './paths.js';

export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** How the Kafka client reaches the brokers: TLS and a SASL login (both off by default). */
export interface KafkaSecurity {
  /** TLS: `true` trusts the system's CAs; `{ ca }` trusts only this PEM bundle (a private CA). */
  ssl: boolean | { ca: string };
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const KAFKA_SASL_MECHANISMS: readonly KafkaSaslMechanism[] = [
  'plain',
  'scram-sha-256',
  'scram-sha-512',
];

export interface GatewayConfig {
  port: number;
  /** Interface the HTTP server binds to. */
  host: string;
  /** PostgreSQL connection string; undefined means the embedded PGlite database in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Kafka bootstrap brokers; empty means the in-process bus with the sample connectors. */
  kafkaBrokers: string[];
  /** TLS (with the CA bundle's text when one is given) and the SASL login to the brokers. */
  kafkaSecurity: KafkaSecurity;
  /**
   * How often Kafka consumers (the gateway's and `silobridge connector`'s) commit the offsets of what
   * they handled; 0: after every message. Longer means fewer requests and more messages read again
   * after a crash or rebalance.
   */
  kafkaCommitIntervalMs: number;
  topicPrefix: string;
  /** Names this gateway instance's reply topic; unique per running instance. */
  instanceId: string;
  logLevel: LogLevel;
  /** Largest accepted request body. */
  bodyLimitBytes: number;
  /** How long a lookup waits for the provider's connector. */
  lookupTimeoutMs: number;
  /** Most lookups one instance has waiting on one provider department; more get 503 provider-busy. */
  maxInFlightPerDepartment: number;
  /** How long request topics keep lookup requests (they hold identifiers in clear). */
  requestTopicRetentionMs: number;
  /** How long SIGTERM waits for in-flight requests before closing anyway. */
  shutdownGraceMs: number;
  /** Retries of change notices to webhook targets (docs/notices.md). */
  noticeRetry: { baseMs: number; maxMs: number; maxAttempts: number; timeoutMs: number };
  /** How long finished deliveries and the change events they carried are kept. */
  noticeRetentionDays: number;
  /** Limits of the HTTP server against slow and greedy clients (gateway/http/http-server.ts). */
  http: HttpServerSettings;
  /** Start the sample department connectors in-process (the embedded demo). */
  sampleConnectors: boolean;
  /** Register the demo departments and systems, with key files, at start (the embedded demo). */
  demoIdentities: boolean;

  // Identity and policy (docs/identity-and-policy.md)
  /** The `aud` every token must carry. */
  audience: string;
  maxTokenLifetimeSeconds: number;
  clockToleranceSeconds: number;
  /** How soon registry changes made elsewhere (another instance, the CLI) take effect. */
  registryRefreshMs: number;
  tokenCacheSize: number;
  policiesDir: string;
  /** Reload policies when their files change (SIGHUP always reloads). */
  policyWatch: boolean;

  // Audit log and response signing (docs/audit.md); unset secrets are generated into the data folder.
  auditHmacKey: string | undefined;
  signingKeySecret: string | undefined;
  auditBatchMaxEvents: number;
  auditBatchMaxWaitMs: number;
  auditCheckpointEvery: number;
  auditCheckpointIntervalMs: number;
  auditRecordTimeoutMs: number;
  /** A folder (mounted from elsewhere) every signed checkpoint is written to; undefined: none. */
  auditCheckpointDir: string | undefined;
}

/** The HTTP server's timeouts and connection limits: slow or greedy clients are cut, not waited for. */
export interface HttpServerSettings {
  /** Longest time a client may take to send the request line and headers. */
  headersTimeoutMs: number;
  /** Longest time a client may take to send the whole request, headers and body. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open for the client's next request. */
  keepAliveTimeoutMs: number;
  /** Headers read per request; more are ignored. */
  maxHeaders: number;
  /** Largest request line plus headers; larger answers 431. */
  maxHeaderBytes: number;
  /** Open connections in total; more are refused. */
  maxConnections: number;
  /** Open connections from one client address; 0: no limit of its own. */
  maxConnectionsPerClient: number;
}

type Env = Record<string, string | undefined>;

class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string, pattern?: RegExp, allowed?: string): string {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (pattern && !pattern.test(raw)) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)} is not valid: expected ${allowed ?? pattern.source}.`,
      );
      return fallback;
    }
    return raw;
  }

  optional(name: string): string | undefined {
    return this.raw(name);
  }

  /**
   * A value that may hold a password: `NAME`, or `NAME_FILE` naming a file that holds it (how Docker
   * and Kubernetes mount secrets), never both. Surrounding white space (a trailing newline) is dropped,
   * as it is from environment values.
   */
  secretValue(name: string): string | undefined {
    const fileVariable = `${name}_FILE`;
    const file = this.raw(fileVariable);
    if (file === undefined) return this.raw(name);
    if (this.raw(name) !== undefined) {
      this.problems.push(`${name} and ${fileVariable} are both set: give the value one way only.`);
      return undefined;
    }
    try {
      const value = readFileSync(path.resolve(file), 'utf8').trim();
      if (value === '') this.problems.push(`${fileVariable}=${JSON.stringify(file)} is empty.`);
      return value === '' ? undefined : value;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      this.problems.push(`${fileVariable}=${JSON.stringify(file)} could not be read (${code}).`);
      return undefined;
    }
  }

  /** A secret (`NAME` or `NAME_FILE`): at least `minLength` characters, and never echoed in a message. */
  secret(name: string, minLength: number): string | undefined {
    const raw = this.secretValue(name);
    if (raw !== undefined && raw.length < minLength) {
      this.problems.push(
        `${name} is too short: use at least ${minLength} random characters (e.g. openssl rand -base64 48).`,
      );
    }
    return raw;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)} is not valid: expected a whole number from ${min} to ${max}.`,
      );
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)} is not valid: expected one of ${allowed.join(', ')}.`,
      );
      return fallback;
    }
    return raw as T;
  }

  /** One of `allowed`, in any letter case; undefined when unset. */
  optionalOneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const raw = this.raw(name);
    if (raw === undefined) return undefined;
    const value = allowed.find((option) => option.toLowerCase() === raw.toLowerCase());
    if (value === undefined) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)} is not valid: expected one of ${allowed.join(', ')}.`,
      );
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (['true', '1', 'yes'].includes(raw)) return true;
    if (['false', '0', 'no'].includes(raw)) return false;
    this.problems.push(`${name}=${JSON.stringify(raw)} is not valid: expected true or false.`);
    return fallback;
  }

  private raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }
}

const BROKER_PATTERN = /^[A-Za-z0-9.-]+:\d{1,5}$/;
const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function parseHttpSettings(reader: EnvReader): HttpServerSettings {
  const settings: HttpServerSettings = {
    headersTimeoutMs: reader.integer('SILOBRIDGE_HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    requestTimeoutMs: reader.integer('SILOBRIDGE_HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    keepAliveTimeoutMs: reader.integer('SILOBRIDGE_HTTP_KEEP_ALIVE_TIMEOUT_MS', 5000, 100, 600_000),
    maxHeaders: reader.integer('SILOBRIDGE_HTTP_MAX_HEADERS', 100, 10, 2000),
    maxHeaderBytes: reader.integer('SILOBRIDGE_HTTP_MAX_HEADER_BYTES', 16 * 1024, 1024, 1024 * 1024),
    maxConnections: reader.integer('SILOBRIDGE_HTTP_MAX_CONNECTIONS', 1024, 1, 1_000_000),
    maxConnectionsPerClient: reader.integer('SILOBRIDGE_HTTP_MAX_CONNECTIONS_PER_CLIENT', 0, 0, 1_000_000),
  };
  if (settings.headersTimeoutMs > settings.requestTimeoutMs) {
    reader.problems.push(
      `SILOBRIDGE_HTTP_HEADERS_TIMEOUT_MS (${settings.headersTimeoutMs}) is longer than ` +
        `SILOBRIDGE_HTTP_REQUEST_TIMEOUT_MS (${settings.requestTimeoutMs}): the headers are part of the request.`,
    );
  }
  return settings;
}

function parseBrokers(reader: EnvReader, raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const brokers = raw.split(',').map((broker) => broker.trim());
  const bad = brokers.filter((broker) => !BROKER_PATTERN.test(broker));
  if (bad.length > 0) {
    reader.problems.push(
      `KAFKA_BROKERS has ${bad.map((b) => JSON.stringify(b)).join(', ')}: expected host:port[,host:port...].`,
    );
  }
  return brokers;
}

function parseDatabaseUrl(reader: EnvReader, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error('protocol');
  } catch {
    // Never echo the value: it may hold a password.
    reader.problems.push(
      'DATABASE_URL is not valid: expected postgres://user[:password]@host[:port]/database.',
    );
  }
  return raw;
}

/**
 * KAFKA_SSL, KAFKA_SSL_CA_FILE (read now, so a missing file stops start-up rather than the first
 * connection) and KAFKA_SASL_*. Credentials set without a mechanism, or a mechanism without both
 * credentials, are problems: neither may silently mean "no login". The password is never echoed.
 */
function parseKafkaSecurity(reader: EnvReader): KafkaSecurity {
  const tls = reader.boolean('KAFKA_SSL', false);
  const caFile = reader.optional('KAFKA_SSL_CA_FILE');
  let ssl: KafkaSecurity['ssl'] = tls;
  if (caFile !== undefined && !tls) {
    reader.problems.push(
      'KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true: set KAFKA_SSL=true to connect with TLS ' +
        'trusting that CA bundle, or unset KAFKA_SSL_CA_FILE.',
    );
  } else if (caFile !== undefined) {
    const ca = readCaBundle(reader, caFile);
    if (ca !== undefined) ssl = { ca };
  }

  const mechanism = reader.optionalOneOf('KAFKA_SASL_MECHANISM', KAFKA_SASL_MECHANISMS);
  const username = reader.optional('KAFKA_SASL_USERNAME');
  const password = reader.secret('KAFKA_SASL_PASSWORD', 1);
  const given = [
    ['KAFKA_SASL_USERNAME', username],
    ['KAFKA_SASL_PASSWORD', password],
  ] as const;
  if (reader.optional('KAFKA_SASL_MECHANISM') === undefined) {
    const stray = given.filter(([, value]) => value !== undefined).map(([name]) => name);
    if (stray.length > 0) {
      reader.problems.push(
        `${stray.join(' and ')} ${stray.length > 1 ? 'are' : 'is'} set but KAFKA_SASL_MECHANISM is not: ` +
          `set it to one of ${KAFKA_SASL_MECHANISMS.join(', ')} to log in to Kafka, or unset the credentials.`,
      );
    }
    return { ssl };
  }
  const missing = given.filter(([, value]) => value === undefined).map(([name]) => name);
  if (missing.length > 0) {
    reader.problems.push(
      `KAFKA_SASL_MECHANISM is set, so Kafka needs a SASL login, but ${missing.join(' and ')} ` +
        `${missing.length > 1 ? 'are' : 'is'} not set.`,
    );
  }
  if (mechanism === undefined || username === undefined || password === undefined) return { ssl };
  return { ssl, sasl: { mechanism, username, password } };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The CA bundle's text, after checking every certificate in it parses. */
function readCaBundle(reader: EnvReader, file: string): string | undefined {
  const name = `KAFKA_SSL_CA_FILE=${JSON.stringify(file)}`;
  let text: string;
  try {
    text = readFileSync(path.resolve(file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    reader.problems.push(
      `${name} could not be read (${code}): expected a readable PEM file of CA certificates.`,
    );
    return undefined;
  }
  const certificates = text.match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0) {
    reader.problems.push(`${name} holds no PEM certificate (-----BEGIN CERTIFICATE----- ...).`);
    return undefined;
  }
  for (const [index, pem] of certificates.entries()) {
    try {
      new X509Certificate(pem);
    } catch {
      reader.problems.push(
        `${name}: certificate ${index + 1} of ${certificates.length} is not valid PEM/X.509.`,
      );
      return undefined;
    }
  }
  return text;
}

function optionalPath(raw: string | undefined): string | undefined {
  return raw === undefined ? undefined : path.resolve(raw);
}

export function loadConfig(env: Env = process.env): GatewayConfig {
  const reader = new EnvReader(env);
  const kafkaBrokers = parseBrokers(reader, reader.optional('KAFKA_BROKERS'));
  const sampleConnectors = reader.boolean('SILOBRIDGE_SAMPLE_CONNECTORS', kafkaBrokers.length === 0);
  const databaseUrl = parseDatabaseUrl(reader, reader.secretValue('DATABASE_URL'));
  const config: GatewayConfig = {
    port: reader.integer('PORT', 8080, 0, 65535),
    host: reader.string('HOST', '127.0.0.1', /^[A-Za-z0-9.:-]+$/, 'a host name or IP address'),
    databaseUrl,
    dataDir: path.resolve(reader.string('SILOBRIDGE_DATA_DIR', './.silobridge')),
    kafkaBrokers,
    kafkaSecurity: parseKafkaSecurity(reader),
    kafkaCommitIntervalMs: reader.integer('KAFKA_COMMIT_INTERVAL_MS', 1000, 0, 60_000),
    topicPrefix: reader.string(
      'SILOBRIDGE_TOPIC_PREFIX',
      'silobridge',
      NAME_PATTERN,
      'lower-case letters, digits, . _ -',
    ),
    instanceId: reader.string(
      'SILOBRIDGE_INSTANCE_ID',
      `${hostname()
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')}-${randomUUID().slice(0, 8)}`,
      NAME_PATTERN,
      'lower-case letters, digits, . _ -',
    ),
    logLevel: reader.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    bodyLimitBytes: reader.integer('SILOBRIDGE_BODY_LIMIT_BYTES', 256 * 1024, 1024, 16 * 1024 * 1024),
    lookupTimeoutMs: reader.integer('SILOBRIDGE_LOOKUP_TIMEOUT_MS', 5000, 50, 120_000),
    maxInFlightPerDepartment: reader.integer('SILOBRIDGE_MAX_IN_FLIGHT_PER_DEPARTMENT', 1000, 1, 100_000),
    requestTopicRetentionMs: reader.integer(
      'SILOBRIDGE_REQUEST_TOPIC_RETENTION_MS',
      60 * 60_000,
      60_000,
      7 * 24 * 60 * 60_000,
    ),
    shutdownGraceMs: reader.integer('SILOBRIDGE_SHUTDOWN_GRACE_MS', 10_000, 0, 300_000),
    noticeRetry: {
      baseMs: reader.integer('SILOBRIDGE_NOTICE_RETRY_BASE_MS', 5000, 10, 3_600_000),
      maxMs: reader.integer('SILOBRIDGE_NOTICE_RETRY_MAX_MS', 30 * 60_000, 10, 24 * 3_600_000),
      maxAttempts: reader.integer('SILOBRIDGE_NOTICE_MAX_ATTEMPTS', 12, 1, 100),
      timeoutMs: reader.integer('SILOBRIDGE_NOTICE_TIMEOUT_MS', 10_000, 100, 120_000),
    },
    noticeRetentionDays: reader.integer('SILOBRIDGE_NOTICE_RETENTION_DAYS', 7, 1, 3650),
    http: parseHttpSettings(reader),
    sampleConnectors,
    // Demo systems (an admin among them, keys on disk) belong to the embedded demo only, never to a
    // deployment on PostgreSQL, even one without Kafka.
    demoIdentities: reader.boolean(
      'SILOBRIDGE_DEMO_IDENTITIES',
      sampleConnectors && databaseUrl === undefined,
    ),
    audience: reader.string(
      'SILOBRIDGE_AUDIENCE',
      'silobridge',
      NAME_PATTERN,
      'lower-case letters, digits, . _ -',
    ),
    maxTokenLifetimeSeconds: reader.integer('SILOBRIDGE_MAX_TOKEN_LIFETIME_SECONDS', 900, 60, 3600),
    clockToleranceSeconds: reader.integer('SILOBRIDGE_CLOCK_TOLERANCE_SECONDS', 30, 0, 60),
    registryRefreshMs: reader.integer('SILOBRIDGE_REGISTRY_REFRESH_MS', 1000, 0, 60_000),
    tokenCacheSize: reader.integer('SILOBRIDGE_TOKEN_CACHE_SIZE', 10_000, 0, 1_000_000),
    policiesDir: path.resolve(reader.string('SILOBRIDGE_POLICIES_DIR', policiesDir)),
    policyWatch: reader.boolean('SILOBRIDGE_POLICY_WATCH', true),
    auditHmacKey: reader.secret('SILOBRIDGE_AUDIT_HMAC_KEY', 32),
    signingKeySecret: reader.secret('SILOBRIDGE_SIGNING_KEY_SECRET', 32),
    auditBatchMaxEvents: reader.integer('SILOBRIDGE_AUDIT_BATCH_MAX_EVENTS', 500, 1, 10_000),
    auditBatchMaxWaitMs: reader.integer('SILOBRIDGE_AUDIT_BATCH_MAX_WAIT_MS', 0, 0, 1000),
    auditCheckpointEvery: reader.integer('SILOBRIDGE_AUDIT_CHECKPOINT_EVERY', 1000, 1, 1_000_000),
    auditCheckpointIntervalMs: reader.integer(
      'SILOBRIDGE_AUDIT_CHECKPOINT_INTERVAL_MS',
      60_000,
      100,
      86_400_000,
    ),
    auditRecordTimeoutMs: reader.integer('SILOBRIDGE_AUDIT_RECORD_TIMEOUT_MS', 5000, 100, 120_000),
    auditCheckpointDir: optionalPath(reader.optional('SILOBRIDGE_AUDIT_CHECKPOINT_DIR')),
  };
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  return config;
}
