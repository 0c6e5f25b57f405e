/**
 * `silobridge connector --department <code> --system <id> --key <file>` as a department team runs it: its own process on Kafka,
 * answering lookups an approval system makes through the gateway, and leaving cleanly on SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { projectRoot } from '../../gateway/foundation/paths.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import { demoKeyFile } from '../../gateway/registry/demo-bootstrap.js';
import { lookupBody } from '../support/lookup-fixtures.js';
import {
  announcedInstances,
  createTestGatewayEnvironment,
  OPERATOR,
  type TestClient,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const CLI = path.join(projectRoot, 'dist', 'gateway', 'cli', 'silobridge.js');

describe('silobridge connector --department public-security', () => {
  const prefix = `cli-${randomBytes(4).toString('hex')}`;
  let env: TestGatewayEnvironment;
  let gateway: RunningGateway;
  let api: TestClient;
  let operator: TestClient;
  let child: ChildProcess;
  let output = '';
  /** The sample connector key the gateway's demo bootstrap wrote. */
  const signing = () => [
    '--system',
    'public-security/connector',
    '--key',
    demoKeyFile(env.dataDir, 'public-security/connector'),
  ];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does).`);
    env = await createTestGatewayEnvironment(prefix);
    gateway = await env.start(`${prefix}-gw`);
    api = await env.client(gateway);
    operator = await env.client(gateway, OPERATOR);
    child = spawn(
      process.execPath,
      [CLI, 'connector', '--department', 'public-security', '--instance-id', 'ps-cli-1', ...signing()],
      {
        env: {
          PATH: process.env.PATH ?? '',
          KAFKA_BROKERS: inject('kafkaBrokers'),
          SILOBRIDGE_TOPIC_PREFIX: prefix,
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await env?.cleanup();
  });

  it('announces itself, and answers resident ID card lookups made through the gateway', async () => {
    await vi.waitFor(
      async () => {
        const { body } = await operator.get('/v1/connectors');
        expect(announcedInstances(body), output).toContainEqual(
          expect.objectContaining({ department: 'public-security', instanceId: 'ps-cli-1', live: true }),
        );
      },
      { timeout: 20_000, interval: 100 },
    );
    const { status, body } = await api.post('/v1/lookups', lookupBody('resident-id-card'));
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ provider: 'public-security', record: { status: 'valid' } });
  });

  it('says down and exits 0 on SIGTERM, after which lookups fail fast with 503', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
    await vi.waitFor(
      async () => {
        const { status, body } = await api.post('/v1/lookups', lookupBody('resident-id-card'));
        expect(status).toBe(503);
        expect(body.type).toBe('https://silobridge.dev/problems/no-live-connector');
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it('refuses to start without Kafka, saying why', async () => {
    const lone = spawn(
      process.execPath,
      [CLI, 'connector', '--department', 'public-security', ...signing()],
      {
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    lone.stderr?.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => lone.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr).toContain('KAFKA_BROKERS is not set');
  });
});
