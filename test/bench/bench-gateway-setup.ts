/**
 * One gateway under benchmark, as `npm start` would run it: its own process (bench-gateway.ts), its
 * own PostgreSQL database (dropped after), data folder, policy and topic prefix, and over Kafka the
 * sample connectors in a process of their own (bench-connectors.ts). Resolves once every sample
 * certificate type is answered 200, i.e. the gateway has heard every connector's heartbeat.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { demoToken } from '../support/gateway-auth.js';
import { CERTIFICATE_TYPES, lookupBody } from '../support/lookup-fixtures.js';
import { adminDatabaseUrl, databaseUrlFor, withAdminClient } from '../support/postgres-harness.js';
import { writeBenchPolicy } from './bench-policy.js';
import { type BenchChild, benchDir, startBenchChild } from './bench-process.js';

export interface GatewayOptions {
  brokers?: string;
  /** `dist` (the default): the build (npm run build first), under plain node; `source`: through tsx. */
  from?: 'source' | 'dist';
  auditOff?: boolean;
  nodeArgs?: string[];
  /** Gateway environment overriding the benchmark's (e.g. the per-department in-flight bound). */
  env?: Record<string, string>;
}

/** A started gateway process with its own database, data folder and topics; its connectors over Kafka. */
export interface GatewaySetup {
  gateway: BenchChild;
  /** The sample connectors' process (over Kafka only). */
  connectors?: BenchChild;
  url: string;
  token: () => Promise<string>;
  stop(): Promise<void>;
}

export async function startGatewaySetup(
  options: GatewayOptions,
  /** Registers the setup's clean-up, to run even if the benchmark stops before the case does. */
  onCleanup: (cleanup: () => Promise<void>) => void,
): Promise<GatewaySetup> {
  const adminUrl = adminDatabaseUrl();
  const database = `silobridge_bench_${randomBytes(4).toString('hex')}`;
  await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE ${database}`));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'silobridge-bench-'));
  const local: Array<() => Promise<unknown>> = [];
  local.push(() => rm(dataDir, { recursive: true, force: true }));
  local.push(() =>
    withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)),
  );
  const stop = async () => {
    for (const cleanup of local.splice(0).reverse()) await cleanup().catch(() => {});
  };
  onCleanup(stop);
  try {
    const policies = path.join(dataDir, 'policies');
    await mkdir(policies);
    await writeBenchPolicy(policies);
    const prefix = `bench-${randomBytes(3).toString('hex')}`;
    const fromDist = options.from !== 'source';
    const gateway = startBenchChild('gateway', 'bench-gateway.ts', {
      args: [
        '--gateway',
        path.join(benchDir, '../..', fromDist ? 'dist/gateway' : 'gateway'),
        ...(options.auditOff ? ['--audit', 'off'] : []),
      ],
      // The build runs under plain node, as `npm start` runs it: no tsx loader in the measured process.
      plainNode: fromDist,
      nodeArgs: options.nodeArgs,
      stdoutFile: path.join(dataDir, 'gateway.log'),
      env: {
        DATABASE_URL: databaseUrlFor(adminUrl, database),
        SILOBRIDGE_DATA_DIR: dataDir,
        SILOBRIDGE_POLICIES_DIR: policies,
        SILOBRIDGE_DEMO_IDENTITIES: 'true',
        SILOBRIDGE_SAMPLE_CONNECTORS: options.brokers ? 'false' : 'true',
        SILOBRIDGE_TOPIC_PREFIX: prefix,
        PORT: '0',
        LOG_LEVEL: 'info',
        // 32 batch calls of 100 put up to 1,280 items in flight to one department (two of the five
        // certificate types are market-regulation's); the default limit of 1,000 would refuse the
        // rest at once with 503 provider-busy, by design. Raised so the batch rows measure the path.
        SILOBRIDGE_MAX_IN_FLIGHT_PER_DEPARTMENT: '4000',
        KAFKA_BROKERS: options.brokers ?? '',
        ...options.env,
      },
    });
    local.push(() => gateway.stop());
    const started = Date.now();
    const url = String((await gateway.ready).url);
    const gatewayUp = Date.now() - started;
    let connectors: BenchChild | undefined;
    if (options.brokers) {
      const started = startBenchChild('connectors', 'bench-connectors.ts', {
        args: [options.brokers, prefix, dataDir],
      });
      connectors = started;
      local.push(() => started.stop());
      await started.ready;
    }
    const connectorsUp = Date.now() - started;
    await waitUntilLookupsWork(url, await demoToken(dataDir));
    process.stderr.write(
      `  (gateway listening after ${seconds(gatewayUp)}, connectors after ${seconds(connectorsUp)}, ` +
        `lookups answered after ${seconds(Date.now() - started)})\n`,
    );
    return { gateway, connectors, url, token: () => demoToken(dataDir), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Connectors announce themselves by heartbeat: until the gateway has heard them, lookups fail. */
async function waitUntilLookupsWork(url: string, token: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answers = await Promise.all(
      CERTIFICATE_TYPES.map((type) =>
        fetch(`${url}/v1/lookups`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(lookupBody(type, 0)),
        }).then(
          async (response) => {
            await response.arrayBuffer();
            return response.status;
          },
          () => 0,
        ),
      ),
    );
    if (answers.every((status) => status === 200)) return;
    if (Date.now() > deadline) throw new Error(`lookups still answer ${answers.join(',')} after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
