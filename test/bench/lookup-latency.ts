/**
 * Latency of one certificate lookup through the whole gateway (HTTP, token, policy, Kafka request and
 * reply, schema validation, audit log on PostgreSQL, signed response), over a real Kafka broker and,
 * as the baseline in the same run, over the in-process bus (everything but Kafka).
 *   1. sequential lookups: p50 / p90 / p99 / max;
 *   2. throughput with C lookups in flight.
 * Run: node --import tsx test/bench/lookup-latency.ts [lookups=1000] [concurrency=32]
 * Starts its own Kafka broker unless KAFKA_BROKERS is set; uses DATABASE_URL's server (default
 * postgres://postgres@127.0.0.1:5432/test) with a database of its own, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInProcessBus } from '../../gateway/bus/in-process-bus.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { startAllSampleConnectors } from '../../gateway/demo/run-sample-connector.js';
import { loadConfig } from '../../gateway/foundation/config.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { startGateway } from '../../gateway/gateway.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import { startKafkaBroker } from '../kafka/kafka-broker.js';
import { demoConnectorSigners } from '../support/department-keys.js';
import { demoToken, writeTestPolicy } from '../support/gateway-auth.js';
import { CERTIFICATE_TYPES, lookupBody } from '../support/lookup-fixtures.js';
import { adminDatabaseUrl, databaseUrlFor, withAdminClient } from '../support/postgres-harness.js';

const LOOKUPS = Number(process.argv[2] ?? 1000);
const CONCURRENCY = Number(process.argv[3] ?? 32);
const logger = createLogger('silent');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(label: string, kafkaBrokers: string | undefined) {
  const adminUrl = adminDatabaseUrl();
  const name = `silobridge_bench_${randomBytes(4).toString('hex')}`;
  await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-bench-'));
  await mkdir(path.join(dataDir, 'policies'));
  await writeTestPolicy(path.join(dataDir, 'policies'));
  const prefix = `bench-${randomBytes(3).toString('hex')}`;
  const connectorBus: Bus = kafkaBrokers
    ? createKafkaBus({ brokers: kafkaBrokers.split(','), clientId: `${prefix}-connectors`, logger })
    : createInProcessBus();
  const config = loadConfig({
    DATABASE_URL: databaseUrlFor(adminUrl, name),
    SILOBRIDGE_DATA_DIR: dataDir,
    SILOBRIDGE_POLICIES_DIR: path.join(dataDir, 'policies'),
    SILOBRIDGE_DEMO_IDENTITIES: 'true',
    SILOBRIDGE_SAMPLE_CONNECTORS: 'false',
    SILOBRIDGE_TOPIC_PREFIX: prefix,
    PORT: '0',
    ...(kafkaBrokers ? { KAFKA_BROKERS: kafkaBrokers } : {}),
  });
  const gateway = await startGateway(config, { logger, ...(kafkaBrokers ? {} : { bus: connectorBus }) });
  const connectors = await startAllSampleConnectors({
    bus: connectorBus,
    topicPrefix: prefix,
    logger,
    signerFor: await demoConnectorSigners(dataDir),
  });
  const token = await demoToken(dataDir);
  const lookup = async (i: number) => {
    const body = lookupBody(CERTIFICATE_TYPES[i % CERTIFICATE_TYPES.length] as string, i % 8);
    const started = performance.now();
    const response = await fetch(`${gateway.url}/v1/lookups`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`lookup ${i} answered ${response.status}`);
    return performance.now() - started;
  };
  try {
    // Wait until the connectors are live, then warm up (JIT, connections, consumer fetch loops).
    for (let tries = 0; ; tries++) {
      try {
        await lookup(0);
        break;
      } catch (error) {
        if (tries > 200) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    for (let i = 0; i < 100; i++) await lookup(i);

    const latencies: number[] = [];
    for (let i = 0; i < LOOKUPS; i++) latencies.push(await lookup(i));
    latencies.sort((a, b) => a - b);

    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < LOOKUPS) await lookup(next++);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const ms = (value: number) => `${value.toFixed(2)} ms`;
    console.log(
      `${label.padEnd(22)} p50 ${ms(percentile(latencies, 50))}  p90 ${ms(percentile(latencies, 90))}  ` +
        `p99 ${ms(percentile(latencies, 99))}  max ${ms(latencies.at(-1) ?? 0)}  |  ` +
        `${(LOOKUPS / seconds).toFixed(0)} lookups/s with ${CONCURRENCY} in flight`,
    );
  } finally {
    await connectors.stop();
    await gateway.close();
    await connectorBus.close();
    await withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    await rm(dataDir, { recursive: true, force: true });
  }
}

const external = process.env.KAFKA_BROKERS?.trim();
const broker = external ? undefined : await startKafkaBroker();
try {
  console.log(`${LOOKUPS} sequential lookups, then ${LOOKUPS} with ${CONCURRENCY} in flight, per bus:`);
  await measure('in-process bus', undefined);
  await measure('Kafka (real broker)', external ?? broker?.brokers.join(','));
} finally {
  await broker?.stop();
}
