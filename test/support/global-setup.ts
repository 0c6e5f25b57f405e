/**
 * Starts what the integration tests need, once per run: a real Kafka broker (unless KAFKA_BROKERS
 * names one) and a migrated PostgreSQL template database. Either missing fails the run with a message
 * saying what to do: tests never skip silently.
 */
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { type KafkaBroker, startKafkaBroker } from '../kafka/kafka-broker.js';
import { adminDatabaseUrl, createTemplateDatabase, dropRunDatabases } from './postgres-harness.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = randomBytes(4).toString('hex');
  const adminUrl = adminDatabaseUrl();
  const template = await createTemplateDatabase(adminUrl, runId);
  project.provide('postgresAdminUrl', adminUrl);
  project.provide('postgresTemplate', template);
  project.provide('testRunId', runId);

  let broker: KafkaBroker | undefined;
  const external = process.env.KAFKA_BROKERS?.trim();
  if (external) {
    project.provide('kafkaBrokers', external);
  } else {
    const started = Date.now();
    broker = await startKafkaBroker({ log: (line) => process.stderr.write(`[kafka] ${line}\n`) });
    process.stderr.write(`[kafka] broker ${broker.brokers.join(',')} ready in ${Date.now() - started} ms\n`);
    project.provide('kafkaBrokers', broker.brokers.join(','));
  }

  return async () => {
    await broker?.stop();
    await dropRunDatabases(adminUrl, runId);
  };
}
