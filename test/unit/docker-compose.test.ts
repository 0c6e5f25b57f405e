import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../gateway/config.js';
import { projectRoot } from '../../gateway/paths.js';

// The Compose Specification's schema is shared reference data: read in place, never copied here.
const composeSpecPath = path.join(projectRoot, '..', 'shared', 'reference', 'compose-spec.json');

interface ComposeService {
  command?: string[];
  environment?: Record<string, string | number>;
}

const compose = parse(readFileSync(path.join(projectRoot, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, ComposeService>;
};

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification', () => {
    const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(composeSpecPath, 'utf8')) as object);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('gives the gateway and every connector a configuration the gateway accepts', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (name !== 'gateway' && !name.startsWith('connector-')) continue;
      const env = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)]),
      );
      const config = loadConfig(env);
      expect(config.kafkaBrokers, name).toEqual(['kafka:9092']);
      expect(config.databaseUrl, name).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    }
  });
});
