/**
 * The connector configuration: what a department writes (`ConnectorConfigFile`, described for editors
 * and checked by schemas/connector-config.schema.json) and what the loader makes of it
 * (`ConnectorConfig`: secrets resolved, key file read into a signer, paths made absolute), ready to
 * become the options of createConnector and of the PostgreSQL and HTTP adapters.
 */
import type { DepartmentSigner } from '../../gateway/protocol/department-signature.js';
import type { ValueSetting } from './config-values.js';

// --- The file, as written (after the schema check) ---------------------------------------------------

export interface ConnectorConfigFile {
  department: string;
  system: string;
  signingKey: string;
  keyId?: string;
  instanceId?: string;
  topicPrefix?: string;
  concurrency?: number;
  heartbeatIntervalMs?: number;
  handlerTimeoutMs?: number;
  kafka?: { brokers?: string[] };
  certificateTypes: Record<string, CertificateTypeFile>;
}

export interface CertificateTypeFile {
  schemaVersion: number;
  postgres?: PostgresSourceFile;
  http?: HttpSourceFile;
}

export interface PostgresSourceFile {
  connectionString: ValueSetting;
  table: string;
  subjectColumns: Record<string, string | string[]>;
  recordColumns: Record<string, string>;
  requiredFields?: string[];
  orderBy?: { column: string; direction?: 'asc' | 'desc' };
  poolSize?: number;
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface HttpSourceFile {
  baseUrl: string;
  path: string | string[];
  timeoutMs?: number;
  headers?: Record<string, ValueSetting>;
  response?: { record?: string; fields?: Record<string, string> };
}

// --- Loaded ------------------------------------------------------------------------------------------

export interface ConnectorConfig {
  /** The configuration file, as given. */
  file: string;
  department: string;
  /** The connector system whose key signs, `<department>/<system>`. */
  system: string;
  /** Absolute path of the private key file. */
  signingKeyFile: string;
  signer: DepartmentSigner;
  instanceId?: string;
  /** Absent: the environment's (SILOBRIDGE_TOPIC_PREFIX), else `silobridge`. */
  topicPrefix?: string;
  concurrency?: number;
  heartbeatIntervalMs?: number;
  handlerTimeoutMs?: number;
  /** Absent: the environment's (KAFKA_BROKERS). */
  kafkaBrokers?: string[];
  /** Certificate type -> where its records come from. */
  certificateTypes: Record<string, CertificateSource>;
}

export type CertificateSource =
  | { kind: 'postgres'; schemaVersion: number; postgres: PostgresSource }
  | { kind: 'http'; schemaVersion: number; http: HttpSource };

export interface PostgresSource {
  /** Resolved: may hold a password, never print it. */
  connectionString: string;
  table: string;
  subjectColumns: Record<string, string[]>;
  recordColumns: Record<string, string>;
  /** As written, or the certificate schema's required fields when the loader had the catalog. */
  requiredFields?: string[];
  orderBy?: { column: string; direction?: 'asc' | 'desc' };
  poolSize?: number;
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface HttpSource {
  baseUrl: string;
  /** Path templates, tried in order: the first whose placeholders the subject all has. */
  paths: string[];
  timeoutMs?: number;
  /** Resolved: may hold API keys, never print them. */
  headers: Record<string, string>;
  response: {
    /** JSON pointer to the record in the body; `''` is the whole body. */
    record: string;
    /** Record field -> JSON pointer into the record object; absent: the object as it is. */
    fields?: Record<string, string>;
  };
}
