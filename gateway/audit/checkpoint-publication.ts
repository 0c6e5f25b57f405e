/**
 * Signed checkpoints published where the database's administrators cannot reach them, and the newest
 * one kept in memory for every signed lookup response to carry. One line format everywhere (the
 * public feed, the Kafka topic, the files, `silobridge audit checkpoints`):
 *   {"type":"checkpoint","sequence":n,"at":"…","jws":"<compact JWS, typ silobridge-audit-checkpoint+jws>"}
 *
 * Several instances: the instance that signs a checkpoint publishes it to the topic (keyed by
 * sequence, so a repeat is harmless), retrying a failed publication with the next checkpoint, and
 * each instance at start publishes the newest one again, in case its signer died between commit and
 * publish. Every instance writes every checkpoint it learns
 * of to the directory, one file per sequence, written atomically with the same content whoever
 * writes it: no duplicates, and a restarted instance fills in what the directory lacks.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../foundation/logger.js';
import type { Bus } from '../protocol/bus.js';
import type { Database } from '../storage/database.js';
import { readCheckpointsAfter } from './audit-checkpoints.js';
import type { SeenCheckpoint } from './audit-log.js';

export interface CheckpointLine {
  type: 'checkpoint';
  sequence: number;
  at: string;
  jws: string;
}

export function checkpointLine(checkpoint: SeenCheckpoint): string {
  const line: CheckpointLine = {
    type: 'checkpoint',
    sequence: checkpoint.sequence,
    at: checkpoint.at,
    jws: checkpoint.jws,
  };
  return `${JSON.stringify(line)}\n`;
}

/** `<dir>/<YYYY-MM-DD of at>/checkpoint-<sequence, 16 digits>.ndjson`: sorted by name, a day a folder. */
export function checkpointFile(directory: string, checkpoint: SeenCheckpoint): string {
  return path.join(
    directory,
    checkpoint.at.slice(0, 10),
    `checkpoint-${String(checkpoint.sequence).padStart(16, '0')}.ndjson`,
  );
}

const FILE_NAME = /^checkpoint-(\d{16})\.ndjson$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** Checkpoints kept for a topic that cannot be written; the newest covers the ones dropped. */
const MAX_UNPUBLISHED = 1000;
const CATCH_UP_PAGE = 500;

export interface CheckpointPublicationOptions {
  database: Database;
  logger: Logger;
  /** Publishes to `topic` when it is Kafka (an in-process topic leaves the process with nobody). */
  bus?: Bus;
  topic: string;
  /** Creates the topic if missing (ensureCheckpointTopic); retried until it works. */
  ensureTopic?: () => Promise<void>;
  /** SILOBRIDGE_AUDIT_CHECKPOINT_DIR. */
  directory?: string;
}

export interface CheckpointPublication {
  /** The newest checkpoint's JWS, for signed responses; undefined while the chain has none. */
  latest(): string | undefined;
  /** The audit log's onCheckpoint. */
  seen(checkpoint: SeenCheckpoint, signedHere: boolean): void;
  /**
   * Publishes the newest checkpoint known to the topic again: at start, in case the instance that
   * signed it stopped between its commit and its publication (a repeat is harmless).
   */
  republishNewest(): void;
  /** Waits for the publications under way, at most `timeoutMs`. */
  settle(timeoutMs?: number): Promise<void>;
}

export function createCheckpointPublication(options: CheckpointPublicationOptions): CheckpointPublication {
  const { database, bus, directory } = options;
  const logger = options.logger.child({ component: 'audit-checkpoint-publication' });
  const toTopic = bus?.kind === 'kafka';
  let latest: SeenCheckpoint | undefined;
  const unpublished: SeenCheckpoint[] = [];
  let topicReady = false;
  /** The newest sequence the directory holds; undefined until it was looked at. */
  let inDirectory: number | undefined;
  let wanted = 0;
  let tail: Promise<void> = Promise.resolve();
  const serially = (work: () => Promise<void>) => {
    tail = tail.then(work).catch((error: unknown) => logger.warn({ err: error }, 'publishing failed'));
  };

  const publishToTopic = async () => {
    if (!bus || unpublished.length === 0) return;
    if (!topicReady) {
      await options.ensureTopic?.();
      topicReady = true;
    }
    const batch = [...unpublished];
    await bus.publish(
      options.topic,
      batch.map((checkpoint) => ({ key: String(checkpoint.sequence), value: checkpointLine(checkpoint) })),
    );
    unpublished.splice(0, batch.length);
  };

  const writeToDirectory = async (dir: string) => {
    inDirectory ??= await newestInDirectory(dir);
    while (inDirectory < wanted) {
      const page = await readCheckpointsAfter(database, inDirectory, CATCH_UP_PAGE);
      for (const checkpoint of page) {
        await writeAtomically(checkpointFile(dir, checkpoint), checkpointLine(checkpoint));
        inDirectory = checkpoint.sequence;
      }
      if (page.length < CATCH_UP_PAGE) break;
    }
  };

  return {
    latest: () => latest?.jws,
    seen(checkpoint, signedHere) {
      if (latest && checkpoint.sequence < latest.sequence) {
        // Checkpoints are only ever added: the newest cannot go back unless someone deleted some.
        logger.error(
          { newest: checkpoint.sequence, seenBefore: latest.sequence },
          'the newest audit checkpoint in the database is older than one this instance saw: checkpoints were deleted',
        );
      }
      const isNew = latest === undefined || checkpoint.sequence > latest.sequence;
      if (isNew) latest = checkpoint;
      if (toTopic && signedHere) {
        unpublished.push(checkpoint);
        if (unpublished.length > MAX_UNPUBLISHED) unpublished.splice(0, unpublished.length - MAX_UNPUBLISHED);
        serially(publishToTopic);
      } else if (toTopic && unpublished.length > 0 && isNew) {
        serially(publishToTopic); // a retry, now that the topic may be back
      }
      if (directory && checkpoint.sequence > wanted) {
        wanted = checkpoint.sequence;
        serially(() => writeToDirectory(directory));
      }
    },
    republishNewest() {
      if (!toTopic || !latest) return;
      unpublished.push(latest);
      serially(publishToTopic);
    },
    async settle(timeoutMs = 5000) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        tail,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}

async function newestInDirectory(directory: string): Promise<number> {
  await mkdir(directory, { recursive: true });
  const days = (await readdir(directory)).filter((name) => DAY.test(name)).sort();
  for (const day of days.reverse()) {
    const files = (await readdir(path.join(directory, day))).filter((name) => FILE_NAME.test(name)).sort();
    const newest = files.at(-1)?.match(FILE_NAME)?.[1];
    if (newest) return Number(newest);
  }
  return 0;
}

/** Whoever writes a checkpoint's file writes the same bytes: write beside it, then rename over. */
async function writeAtomically(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  await writeFile(temporary, content, { mode: 0o644 });
  await rename(temporary, file);
}
