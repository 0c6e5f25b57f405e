/**
 * The gateway's configuration, parsed once from the environment at start. Nothing else reads
 * `process.env`. A bad value stops start-up with a message naming the variable and what it allows.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface GatewayConfig {
  port: number;
  /** Interface the HTTP server binds to. */
  host: string;
  /** PostgreSQL connection string; undefined means the embedded PGlite database in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Kafka bootstrap brokers; empty means the in-process bus with the sample connectors. */
  kafkaBrokers: string[];
  topicPrefix: string;
  /** Names this gateway instance's reply topic; unique per running instance. */
  instanceId: string;
  logLevel: LogLevel;
  /** Largest accepted request body. */
  bodyLimitBytes: number;
  /** How long a lookup waits for the provider's connector. */
  lookupTimeoutMs: number;
  /** How long SIGTERM waits for in-flight requests before closing anyway. */
  shutdownGraceMs: number;
  /** Start the sample department connectors in-process (the embedded demo). */
  sampleConnectors: boolean;
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

export function loadConfig(env: Env = process.env): GatewayConfig {
  const reader = new EnvReader(env);
  const kafkaBrokers = parseBrokers(reader, reader.optional('KAFKA_BROKERS'));
  const config: GatewayConfig = {
    port: reader.integer('PORT', 8080, 0, 65535),
    host: reader.string('HOST', '127.0.0.1', /^[A-Za-z0-9.:-]+$/, 'a host name or IP address'),
    databaseUrl: parseDatabaseUrl(reader, reader.optional('DATABASE_URL')),
    dataDir: path.resolve(reader.string('SILOBRIDGE_DATA_DIR', './.silobridge')),
    kafkaBrokers,
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
    shutdownGraceMs: reader.integer('SILOBRIDGE_SHUTDOWN_GRACE_MS', 10_000, 0, 300_000),
    sampleConnectors: reader.boolean('SILOBRIDGE_SAMPLE_CONNECTORS', kafkaBrokers.length === 0),
  };
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  return config;
}
