/**
 * `silobridge audit checkpoints`: prints the signed checkpoints as NDJSON lines
 * ({"type":"checkpoint","sequence":n,"at":"…","jws":"…"}), to keep and later give to
 * `silobridge audit verify --against`:
 *   --from-kafka   read the `<prefix>.audit-checkpoints` topic from its start to its end (what a
 *                  department runs: it needs the brokers, not the gateway's database)
 *   (default)      read them from the database
 * Reading the topic under Kafka ACLs needs READ on the topic and on the consumer group, a
 * `<prefix>.audit-checkpoints.` group of the reader's own (--group; default a random one).
 * Also how `audit verify --against` prints what the held copies prove (formatWitness).
 */

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { readCheckpointsAfter } from '../audit/audit-checkpoints.js';
import type { WitnessReport } from '../audit/audit-witness.js';
import { checkpointLine } from '../audit/checkpoint-publication.js';
import { createKafkaClient, type KafkaClientOptions } from '../bus/kafka-bus.js';
import { type GatewayConfig, loadConfig } from '../foundation/config.js';
import { ConfigError } from '../foundation/errors.js';
import { createLogger } from '../foundation/logger.js';
import { topicNames } from '../protocol/topics.js';
import type { Database } from '../storage/database.js';

export type KafkaReaderConfig = Pick<GatewayConfig, 'kafkaBrokers' | 'kafkaSecurity' | 'topicPrefix'>;

export interface CheckpointCommandDependencies {
  /** The brokers and topic prefix, for --from-kafka. */
  loadKafkaConfig?: () => KafkaReaderConfig;
  /** Runs `work` with the gateway's database (audit-commands.ts), reporting failures with exit 2. */
  withDatabase: (work: (database: Database) => Promise<void>) => Promise<void>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  fail: (message: string) => void;
}

/** How long --from-kafka waits for the topic's last message before giving up. */
const TOPIC_READ_TIMEOUT_MS = 60_000;

/**
 * Reads a topic from its start up to the end it had when the read began (its high watermarks), and
 * hands each message's value to `write`; resolves with how many were read. Commits nothing.
 */
export async function readTopicToEnd(
  client: KafkaClientOptions,
  topic: string,
  groupId: string,
  write: (value: string) => Promise<void>,
): Promise<number> {
  const kafka = createKafkaClient(client);
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(
      offsets
        .filter((partition) => BigInt(partition.high) > BigInt(partition.low))
        .map((partition) => [partition.partition, BigInt(partition.high)]),
    );
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return 0;
  const consumer = kafka.consumer({ groupId });
  let read = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`${topic}: its last message did not arrive within ${TOPIC_READ_TIMEOUT_MS} ms`)),
        TOPIC_READ_TIMEOUT_MS,
      );
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition);
            if (end === undefined || BigInt(message.offset) >= end) return;
            if (message.value) {
              await write(message.value.toString('utf8'));
              read += 1;
            }
            if (BigInt(message.offset) + 1n >= end) ends.delete(partition);
            if (ends.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return read;
}

export function registerCheckpointCommand(audit: Command, deps: CheckpointCommandDependencies): void {
  audit
    .command('checkpoints')
    .description(
      'print the signed checkpoints as NDJSON, to keep and give to verify --against (from the database, or --from-kafka)',
    )
    .option(
      '--from-kafka',
      'read the <prefix>.audit-checkpoints topic (KAFKA_BROKERS) instead of the database',
    )
    .option(
      '--group <id>',
      'with --from-kafka: the consumer group (default <prefix>.audit-checkpoints.reader-<random>)',
    )
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (options: { fromKafka?: boolean; group?: string; out?: string }) => {
      const out = options.out ? createWriteStream(options.out, { flags: 'a' }) : deps.stdout;
      const write = async (line: string) => {
        if (!out.write(line.endsWith('\n') ? line : `${line}\n`)) await once(out, 'drain');
      };
      const finish = async (count: number, from: string) => {
        if (out !== deps.stdout) {
          out.end();
          await once(out, 'finish');
        }
        deps.stderr.write(`silobridge audit: ${count} checkpoint(s) from ${from}\n`);
      };
      if (!options.fromKafka) {
        await deps.withDatabase(async (database) => {
          let after = 0;
          let count = 0;
          for (;;) {
            const page = await readCheckpointsAfter(database, after, 1000);
            for (const checkpoint of page) await write(checkpointLine(checkpoint));
            count += page.length;
            const last = page.at(-1);
            if (!last || page.length < 1000) break;
            after = last.sequence;
          }
          await finish(count, 'the database');
        });
        return;
      }
      try {
        const config = (deps.loadKafkaConfig ?? loadConfig)();
        if (config.kafkaBrokers.length === 0) {
          throw new ConfigError([
            'KAFKA_BROKERS is not set: --from-kafka reads the topic from those brokers.',
          ]);
        }
        const topic = topicNames(config.topicPrefix).auditCheckpoints;
        const count = await readTopicToEnd(
          {
            brokers: config.kafkaBrokers,
            clientId: 'silobridge-audit-checkpoints',
            security: config.kafkaSecurity,
            logger: createLogger('warn').child({ component: 'kafka' }),
          },
          topic,
          options.group ?? `${topic}.reader-${randomUUID().slice(0, 8)}`,
          write,
        );
        await finish(count, topic);
      } catch (error) {
        deps.fail((error as Error).message);
      }
    });
}

const range = ({ from, to }: { from: number; to: number }) =>
  from === to ? `event #${from}` : `events #${from} to #${to}`;

/** What the checkpoints held outside the database prove (audit-witness.ts), one line each. */
export function formatWitness(witness: WitnessReport): string {
  const { held } = witness;
  const lines = [
    `held outside the database: ${held.total} checkpoint(s) from ${witness.sources.length} source(s), ` +
      `${held.valid} validly signed, ${held.agreeing} agree with the log` +
      `${held.latest ? ` (newest held: #${held.latest.sequence}, signed at ${held.latest.at})` : ''}`,
  ];
  for (const finding of witness.findings) lines.push(`  - [${finding.status}] ${finding.message}`);
  if (witness.heldUpTo > 0)
    lines.push(
      `${range({ from: 1, to: witness.heldUpTo })}: pinned by a checkpoint held outside the database`,
    );
  if (witness.heldNowhereElse)
    lines.push(
      `${range(witness.heldNowhereElse)}: signed, but only by checkpoints in the database (none of these copies covers them)`,
    );
  if (witness.unwitnessed)
    lines.push(
      `${range(witness.unwitnessed)}: UNWITNESSED: no signed checkpoint covers them yet, so real events and ` +
        'events added by someone who can write the database cannot be told apart until the next checkpoint',
    );
  return `${lines.join('\n')}\n`;
}
