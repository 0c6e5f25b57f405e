/**
 * docker-compose.yml as a department's operator would use it: checked by a real Compose
 * implementation (`docker-compose config`, Debian's docker-compose package), which also interpolates
 * `.env` the way `docker compose up` does; every variable it hands a SiloBridge container is one the
 * gateway reads and accepts; no secret is written in the file; Prometheus's configuration passes
 * `promtool check config` and scrapes every gateway.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../gateway/foundation/config.js';
import { projectRoot } from '../../gateway/foundation/paths.js';
import {
  type ComposeFile,
  type ComposeService,
  composeFile,
  environmentOf,
  filledEnvFile,
  resolveCompose,
} from '../support/compose.js';
import { configVariables } from '../support/config-variables.js';

const run = promisify(execFile);

const isSiloBridge = (service: ComposeService) => service.image === 'silobridge:local';

/** Volume mounts in either of Compose's syntaxes (`source:target[:mode]` or `{ source, target }`). */
function mounts(service: ComposeService | undefined): Array<{ source?: string; target: string }> {
  return (service?.volumes ?? []).map((volume) => {
    if (typeof volume !== 'string') return volume;
    const [source, target] = volume.split(':');
    return { source, target: target ?? '' };
  });
}
const dockerfile = readFileSync(path.join(projectRoot, 'gateway', 'Dockerfile'), 'utf8');

describe('docker-compose.yml', () => {
  let resolved: ComposeFile;
  const raw = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as ComposeFile;

  beforeAll(async () => {
    resolved = await resolveCompose(filledEnvFile());
  });

  it('is accepted by docker-compose once .env.example is filled in', () => {
    expect(Object.keys(resolved.services)).toEqual(
      expect.arrayContaining(['postgres', 'kafka', 'gateway-1', 'gateway-2', 'prometheus']),
    );
  });

  it('refuses to start without the secrets, naming the one that is missing', async () => {
    await expect(resolveCompose('COMPOSE_PROJECT_NAME=silobridge\n')).rejects.toThrow(
      /POSTGRES_PASSWORD|SILOBRIDGE_AUDIT_HMAC_KEY/,
    );
  });

  it('writes no secret into the file: every password, key and secret comes from .env', () => {
    for (const [name, service] of Object.entries(raw.services)) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        if (!/PASSWORD|SECRET|_KEY$/.test(variable)) continue;
        expect(String(value), `${name} ${variable}`).toMatch(/^\$\{[A-Z_]+:\?/);
      }
      const url = service.environment?.DATABASE_URL;
      if (url !== undefined) expect(String(url), name).toMatch(/^postgres:\/\/[^:]+:\$\{/);
    }
  });

  it('gives every SiloBridge container only variables the gateway reads, with values it accepts', () => {
    const known = configVariables();
    const siloBridge = Object.entries(resolved.services).filter(([, service]) => isSiloBridge(service));
    expect(siloBridge.length).toBeGreaterThanOrEqual(6);
    for (const [name, service] of siloBridge) {
      const env = environmentOf(service);
      for (const variable of Object.keys(env)) expect(known, `${name} sets ${variable}`).toContain(variable);
      const config = loadConfig(env);
      expect(config.kafkaBrokers, name).toEqual(['kafka:9092']);
    }
  });

  it('runs two gateway instances on one database with stable, distinct instance ids and the same secrets', () => {
    const gateways = Object.entries(resolved.services).filter(
      ([, service]) => isSiloBridge(service) && service.command === undefined,
    );
    expect(gateways.map(([name]) => name).sort()).toEqual(['gateway-1', 'gateway-2']);
    const configs = gateways.map(([, service]) =>
      loadConfig(
        Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)])),
      ),
    );
    expect(new Set(configs.map((config) => config.instanceId)).size).toBe(2);
    expect(configs.map((config) => config.instanceId)).toEqual(['gateway-1', 'gateway-2']);
    for (const config of configs) {
      expect(config.databaseUrl).toMatch(/^postgres:\/\/silobridge:.+@postgres:5432\/silobridge$/);
      expect(config.auditHmacKey).toBe(configs[0]?.auditHmacKey);
      expect(config.signingKeySecret).toBe(configs[0]?.signingKeySecret);
      expect(config.auditHmacKey).toBeDefined();
    }
  });

  it('keeps Kafka on its volume, with a fixed cluster id and the version the tests run', () => {
    const kafka = resolved.services.kafka as ComposeService;
    const testedVersion = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(
      readFileSync(path.join(projectRoot, 'test', 'kafka', 'pom.xml'), 'utf8'),
    )?.[1];
    expect(kafka.image).toBe(`apache/kafka:${testedVersion}`);
    const logDirs = String(kafka.environment?.KAFKA_LOG_DIRS);
    expect(mounts(kafka).map((mount) => mount.target)).toContain(logDirs);
    expect(kafka.environment?.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(kafka.environment?.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
  });

  it('starts nothing before what it depends on is healthy', () => {
    const imageHasHealthcheck = /^HEALTHCHECK /m.test(dockerfile);
    for (const [name, service] of Object.entries(resolved.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(condition, `${name} -> ${dependency}`).toBe('service_healthy');
        const target = resolved.services[dependency] as ComposeService;
        const healthy = target.healthcheck !== undefined || (isSiloBridge(target) && imageHasHealthcheck);
        expect(healthy, `${dependency} has a health check`).toBe(true);
      }
    }
  });

  it('has Prometheus scrape every gateway instance, with a configuration promtool accepts', async () => {
    const prometheusConfig = path.join(projectRoot, 'gateway', 'metrics', 'prometheus.yml');
    const mount = mounts(resolved.services.prometheus).find(
      (volume) => volume.target === '/etc/prometheus/prometheus.yml',
    );
    expect(mount?.source).toBe(prometheusConfig);

    const { stdout } = await run('promtool', ['check', 'config', prometheusConfig]).catch((error) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new Error('promtool is not installed: apt-get install prometheus (see README).');
      throw error;
    });
    expect(stdout).toContain('SUCCESS');
    const scrape = parse(readFileSync(prometheusConfig, 'utf8')) as {
      scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = scrape.scrape_configs.flatMap((job) => job.static_configs.flatMap((c) => c.targets));
    expect(targets.sort()).toEqual(['gateway-1:8080', 'gateway-2:8080']);
  });
});
