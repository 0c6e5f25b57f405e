import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config.js';
import { ConfigError } from '../../gateway/errors.js';

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

  it('never echoes a bad DATABASE_URL, which may hold a password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' })).toThrow(
      /DATABASE_URL is not valid: expected postgres:\/\//,
    );
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' })).not.toThrow(/hunter2/);
  });
});
