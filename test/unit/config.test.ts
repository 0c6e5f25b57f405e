import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/foundation/config.js';
import { ConfigError } from '../../gateway/foundation/errors.js';

describe('loadConfig', () => {
  it('runs the embedded default when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: undefined,
      dataDir: path.resolve('.silobridge'),
      kafkaBrokers: [],
      logLevel: 'info',
      sampleConnectors: true,
    });
  });

  it('reads Kafka brokers and a PostgreSQL URL', () => {
    const config = loadConfig({
      KAFKA_BROKERS: '127.0.0.1:9092, kafka-2:9093',
      DATABASE_URL: 'postgres://gw:secret@db:5432/silobridge',
      PORT: '9000',
      LOG_LEVEL: 'debug',
    });
    expect(config.kafkaBrokers).toEqual(['127.0.0.1:9092', 'kafka-2:9093']);
    expect(config.databaseUrl).toBe('postgres://gw:secret@db:5432/silobridge');
    expect(config.port).toBe(9000);
    expect(config.sampleConnectors).toBe(false);
  });

  it('registers demo systems only for the embedded demo, never on a real database', () => {
    expect(loadConfig({}).demoIdentities).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/silobridge' }).demoIdentities).toBe(false);
    expect(loadConfig({ KAFKA_BROKERS: 'kafka:9092' }).demoIdentities).toBe(false);
  });

  it('names every bad variable and what it allows, at once', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        KAFKA_BROKERS: 'no-port',
        SILOBRIDGE_LOOKUP_TIMEOUT_MS: '0',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('PORT="eighty" is not valid: expected a whole number from 0 to 65535');
    expect(message).toContain('LOG_LEVEL="loud" is not valid: expected one of fatal, error, warn, info');
    expect(message).toContain('KAFKA_BROKERS has "no-port": expected host:port');
    expect(message).toContain('SILOBRIDGE_LOOKUP_TIMEOUT_MS="0"');
  });

  it('reads how often Kafka consumers commit, 0 (every message) to 60000 ms, default 1000', () => {
    expect(loadConfig({}).kafkaCommitIntervalMs).toBe(1000);
    expect(loadConfig({ KAFKA_COMMIT_INTERVAL_MS: '0' }).kafkaCommitIntervalMs).toBe(0);
    expect(loadConfig({ KAFKA_COMMIT_INTERVAL_MS: '5000' }).kafkaCommitIntervalMs).toBe(5000);
    for (const bad of ['-1', '1.5', 'soon', '60001']) {
      expect(() => loadConfig({ KAFKA_COMMIT_INTERVAL_MS: bad })).toThrow(
        `KAFKA_COMMIT_INTERVAL_MS=${JSON.stringify(bad)} is not valid: expected a whole number from 0 to 60000`,
      );
    }
  });

  it('never echoes a bad DATABASE_URL, which may hold a password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' })).toThrow(
      /DATABASE_URL is not valid: expected postgres:\/\//,
    );
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' })).not.toThrow(/hunter2/);
  });
});

describe('loadConfig: Kafka TLS and SASL', () => {
  // A self-signed test CA (EC P-256), only for parsing.
  const TEST_CA = [
    '-----BEGIN CERTIFICATE-----',
    'MIIBkTCCATegAwIBAgIUJwft8pBLn0rp9UjzFbihFIjappAwCgYIKoZIzj0EAwIw',
    'HTEbMBkGA1UEAwwSU2lsb0JyaWRnZSB0ZXN0IENBMCAXDTI2MTEyNzA4MTA1NloY',
    'DzIxMjYxMTAzMDgxMDU2WjAdMRswGQYDVQQDDBJTaWxvQnJpZGdlIHRlc3QgQ0Ew',
    'WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASZIodtWfu+q/asmJbbD/S3tH3CJ0hA',
    '3rK7m8gwR/uRXSdnCHoRM3NxHmWDNK645JtjQewTY5hlTQ6/vKVQOg1go1MwUTAd',
    'BgNVHQ4EFgQU9gmn3Bil0TDKDGROLOXDhyWSo5QwHwYDVR0jBBgwFoAU9gmn3Bil',
    '0TDKDGROLOXDhyWSo5QwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF',
    'AiEAoxTdxJSlDRcLlfSvYHO1GKFQD5ELKQlfnGaAbekzmE4CIFj4Nvj+XV3/Kf+i',
    'wMdF+0I4O8n8xBuM0jMShzICJWij',
    '-----END CERTIFICATE-----',
    '',
  ].join('\n');
  const PASSWORD = 'correct-horse-battery-staple';
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'silobridge-config-'));
    await writeFile(path.join(dir, 'ca.pem'), TEST_CA);
    await writeFile(path.join(dir, 'not-pem.txt'), 'hello\n');
    await writeFile(
      path.join(dir, 'broken.pem'),
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function problems(env: Record<string, string>): string {
    try {
      loadConfig({ KAFKA_BROKERS: 'kafka:9093', ...env });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message;
    }
    throw new Error('loadConfig accepted the configuration');
  }

  it('uses neither TLS nor SASL by default', () => {
    expect(loadConfig({}).kafkaSecurity).toEqual({ ssl: false });
    expect(loadConfig({ KAFKA_BROKERS: 'kafka:9092' }).kafkaSecurity).toEqual({ ssl: false });
  });

  it('turns TLS on, trusting the system CAs or the CA bundle read from KAFKA_SSL_CA_FILE', () => {
    expect(loadConfig({ KAFKA_SSL: 'true' }).kafkaSecurity).toEqual({ ssl: true });
    expect(loadConfig({ KAFKA_SSL: 'false' }).kafkaSecurity).toEqual({ ssl: false });
    expect(loadConfig({ KAFKA_SSL: '1', KAFKA_SSL_CA_FILE: path.join(dir, 'ca.pem') }).kafkaSecurity).toEqual(
      { ssl: { ca: TEST_CA } },
    );
  });

  it('reads a SASL mechanism in any letter case, with both credentials', () => {
    for (const [given, mechanism] of [
      ['plain', 'plain'],
      ['SCRAM-SHA-256', 'scram-sha-256'],
      ['scram-sha-512', 'scram-sha-512'],
    ]) {
      expect(
        loadConfig({
          KAFKA_SSL: 'true',
          KAFKA_SASL_MECHANISM: given as string,
          KAFKA_SASL_USERNAME: 'gateway',
          KAFKA_SASL_PASSWORD: PASSWORD,
        }).kafkaSecurity,
      ).toEqual({ ssl: true, sasl: { mechanism, username: 'gateway', password: PASSWORD } });
    }
  });

  it('names a bad KAFKA_SSL, an unknown mechanism and the credentials a mechanism is missing', () => {
    expect(problems({ KAFKA_SSL: 'maybe' })).toContain(
      'KAFKA_SSL="maybe" is not valid: expected true or false',
    );
    expect(
      problems({ KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD }),
    ).toContain(
      'KAFKA_SASL_MECHANISM="gssapi" is not valid: expected one of plain, scram-sha-256, scram-sha-512',
    );
    expect(problems({ KAFKA_SASL_MECHANISM: 'scram-sha-512' })).toContain(
      'KAFKA_SASL_MECHANISM is set, so Kafka needs a SASL login, but KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are not set.',
    );
    expect(problems({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'gateway' })).toContain(
      'but KAFKA_SASL_PASSWORD is not set.',
    );
    expect(problems({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: PASSWORD })).toContain(
      'but KAFKA_SASL_USERNAME is not set.',
    );
  });

  it('refuses credentials without a mechanism rather than silently not logging in', () => {
    expect(problems({ KAFKA_SASL_USERNAME: 'gateway', KAFKA_SASL_PASSWORD: PASSWORD })).toContain(
      'KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are set but KAFKA_SASL_MECHANISM is not',
    );
    expect(problems({ KAFKA_SASL_PASSWORD: PASSWORD })).toContain(
      'KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is not',
    );
  });

  it('never echoes the SASL password', () => {
    const messages = [
      problems({ KAFKA_SASL_PASSWORD: PASSWORD }),
      problems({ KAFKA_SASL_MECHANISM: 'kerberos', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD }),
      problems({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: PASSWORD }),
    ];
    for (const message of messages) expect(message).not.toContain(PASSWORD);
  });

  it('names an unreadable, non-PEM or broken CA file, and a CA file without KAFKA_SSL', () => {
    const missing = path.join(dir, 'missing.pem');
    expect(problems({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: missing })).toContain(
      `KAFKA_SSL_CA_FILE=${JSON.stringify(missing)} could not be read (ENOENT): expected a readable PEM file`,
    );
    expect(problems({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: dir })).toContain('could not be read (EISDIR)');
    expect(problems({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: path.join(dir, 'not-pem.txt') })).toContain(
      'not-pem.txt" holds no PEM certificate',
    );
    expect(problems({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: path.join(dir, 'broken.pem') })).toContain(
      'broken.pem": certificate 1 of 1 is not valid PEM/X.509',
    );
    expect(problems({ KAFKA_SSL_CA_FILE: path.join(dir, 'ca.pem') })).toContain(
      'KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true: set KAFKA_SSL=true',
    );
  });
});

describe('loadConfig: secrets from mounted files (NAME_FILE)', () => {
  const SECRET = 'a3f9c1e7b2d84f60a3f9c1e7b2d84f60-from-a-file';
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'silobridge-secrets-'));
    await writeFile(path.join(dir, 'hmac.key'), `${SECRET}\n`);
    await writeFile(path.join(dir, 'database-url'), 'postgres://gw:s3cret@db:5432/silobridge\n');
    await writeFile(path.join(dir, 'empty'), '\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads each secret from the file its _FILE variable names, without the trailing newline', () => {
    const config = loadConfig({
      DATABASE_URL_FILE: path.join(dir, 'database-url'),
      SILOBRIDGE_AUDIT_HMAC_KEY_FILE: path.join(dir, 'hmac.key'),
      SILOBRIDGE_SIGNING_KEY_SECRET_FILE: path.join(dir, 'hmac.key'),
      KAFKA_BROKERS: 'kafka:9092',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'gateway',
      KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'hmac.key'),
    });
    expect(config.databaseUrl).toBe('postgres://gw:s3cret@db:5432/silobridge');
    expect(config.auditHmacKey).toBe(SECRET);
    expect(config.signingKeySecret).toBe(SECRET);
    expect(config.kafkaSecurity.sasl?.password).toBe(SECRET);
  });

  it('names a missing or empty file, and a secret given both ways, without echoing any secret', () => {
    let message = '';
    try {
      loadConfig({
        SILOBRIDGE_AUDIT_HMAC_KEY_FILE: path.join(dir, 'missing.key'),
        SILOBRIDGE_SIGNING_KEY_SECRET_FILE: path.join(dir, 'empty'),
        DATABASE_URL: 'postgres://gw:s3cret@db:5432/silobridge',
        DATABASE_URL_FILE: path.join(dir, 'database-url'),
      });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as ConfigError).message;
    }
    expect(message).toContain(
      `SILOBRIDGE_AUDIT_HMAC_KEY_FILE=${JSON.stringify(path.join(dir, 'missing.key'))} could not be read (ENOENT)`,
    );
    expect(message).toContain(
      `SILOBRIDGE_SIGNING_KEY_SECRET_FILE=${JSON.stringify(path.join(dir, 'empty'))} is empty`,
    );
    expect(message).toContain('DATABASE_URL and DATABASE_URL_FILE are both set: give the value one way only');
    expect(message).not.toContain('s3cret');
  });

  it('checks a secret read from a file like one given directly', async () => {
    await writeFile(path.join(dir, 'short.key'), 'too-short\n');
    expect(() => loadConfig({ SILOBRIDGE_AUDIT_HMAC_KEY_FILE: path.join(dir, 'short.key') })).toThrow(
      'SILOBRIDGE_AUDIT_HMAC_KEY is too short: use at least 32 random characters',
    );
  });
});
