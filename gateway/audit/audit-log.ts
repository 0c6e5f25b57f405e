/**
 * The audit log's writer: `record(event)` resolves once the event is committed to the hash chain, so a
 * lookup releases its record only after its event is durable (fail closed). Callers arriving while a
 * batch is being written wait together and are written in the next one (group commit): one
 * transaction, one chain-lock acquisition and one INSERT for up to `batchMaxEvents` events, which is
 * what keeps throughput when every lookup waits for its audit event. A failed batch rejects every
 * waiter with a 503 `audit-unavailable` problem and leaves nothing behind (one transaction).
 */
import type { Registry } from 'prom-client';
import { ServiceUnavailableError } from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';
import type { Database } from '../storage/database.js';
import { linkEvents, type PreparedEvent, prepareEvent } from './audit-chain.js';
import { type CheckpointSigner, checkpointHead, type StoredCheckpoint } from './audit-checkpoints.js';
import type { AuditEvent, AuditRecorder } from './audit-events.js';
import { type AuditMetrics, createAuditMetrics, noAuditMetrics } from './audit-metrics.js';
import { checkHmacKey } from './audit-settings.js';
import { appendRows, type ChainHead, insertRows, lockChain, readHead } from './audit-store.js';
import { createSubjectHasher } from './subject-hash.js';

export class AuditUnavailableError extends ServiceUnavailableError {
  constructor(detail: string, cause?: unknown) {
    super(detail, 'audit-unavailable');
    if (cause !== undefined) this.cause = cause;
  }
}

export interface AuditLogOptions {
  database: Database;
  /** Key of the HMAC that subject identifiers are stored as (SILOBRIDGE_AUDIT_HMAC_KEY), at least 32 bytes. */
  hmacKey: string | Buffer;
  logger: Logger;
  /** Most events in one batch transaction (default 500). */
  batchMaxEvents?: number;
  /**
   * Under load, the longest the next batch waits for more events to join it (default 10 ms; it waits
   * at most as long as the last batch took, and a lone event never waits).
   */
  maxCompanyWaitMs?: number;
  /** How long the first event of an idle log waits for company before its batch starts (default 0: next tick). */
  batchMaxWaitMs?: number;
  /** Signs checkpoints; without it the log writes none. */
  signer?: CheckpointSigner;
  /** A checkpoint once this many events were appended since the last one (default 1000). */
  checkpointEvery?: number;
  /** ...or once this much time has passed since the last one, if anything was appended (default 60 s). */
  checkpointIntervalMs?: number;
  /** A `record()` not committed within this long is rejected with a 503 (default 5 s). */
  recordTimeoutMs?: number;
  registry?: Registry;
  /**
   * Told of the chain's newest checkpoint whenever this log learns of it, at no extra database round
   * trip: from every batch's head, each checkpoint it signs (`signedHere`), and the checkpoint timer.
   */
  onCheckpoint?: (checkpoint: SeenCheckpoint, signedHere: boolean) => void;
}

/** A checkpoint as the log learns of it. */
export interface SeenCheckpoint {
  sequence: number;
  at: string;
  jws: string;
}

export interface AuditLogStats {
  events: number;
  batches: number;
  failedBatches: number;
  checkpoints: number;
  /** One-round-trip appends that wrote nothing because another instance had appended first. */
  relinks: number;
  /** Batches linked while holding the chain lock, after OPTIMISTIC_ATTEMPTS such misses in a row. */
  lockedBatches: number;
}

export interface AuditLog extends AuditRecorder {
  /** Resolves once every event recorded so far is committed (or its batch failed). */
  flush(): Promise<void>;
  /** Signs the current head now, unless it already is; resolves with the new checkpoint, if one was made. */
  checkpoint(): Promise<StoredCheckpoint | undefined>;
  /** Refuses new events, flushes the rest, signs a last checkpoint. */
  close(): Promise<void>;
  stats(): AuditLogStats;
}

/** One-round-trip appends tried before a batch takes the chain lock while it is linked (see appendBatch). */
const OPTIMISTIC_ATTEMPTS = 3;
/** The longest a batch waits for company under load, by default (see companyWaitMs). */
const MAX_COMPANY_WAIT_MS = 10;

interface Pending {
  prepared: PreparedEvent;
  state: 'queued' | 'writing' | 'done';
  /** `performance.now()` when it was recorded (metrics: the oldest pending event's age). */
  since: number;
  resolve(): void;
  reject(error: unknown): void;
}

export async function createAuditLog(options: AuditLogOptions): Promise<AuditLog> {
  const { database, signer } = options;
  const logger = options.logger.child({ component: 'audit-log' });
  const hashSubject = createSubjectHasher(options.hmacKey);
  await checkHmacKey(database, options.hmacKey);

  const batchMaxEvents = options.batchMaxEvents ?? 500;
  const maxCompanyWaitMs = options.maxCompanyWaitMs ?? MAX_COMPANY_WAIT_MS;
  const batchMaxWaitMs = options.batchMaxWaitMs ?? 0;
  const checkpointEvery = options.checkpointEvery ?? 1000;
  const checkpointIntervalMs = options.checkpointIntervalMs ?? 60_000;
  const recordTimeoutMs = options.recordTimeoutMs ?? 5000;
  const stats: AuditLogStats = {
    events: 0,
    batches: 0,
    failedBatches: 0,
    checkpoints: 0,
    relinks: 0,
    lockedBatches: 0,
  };

  const queue: Pending[] = [];
  let closed = false;
  let draining: Promise<void> | undefined;
  let wake: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** When the oldest event of the batch being written was recorded. */
  let writingSince: number | undefined;
  /**
   * When the chain's newest checkpoint was signed, by this instance or another: learnt at start, from
   * every batch's head, every checkpoint written here, and the checkpoint timer. Undefined while the
   * chain has none (the metric then counts from this log's start, so it grows if none is ever made).
   */
  const startedAt = Date.now();
  let lastCheckpointAt: number | undefined;
  const sawCheckpoint = (at: Date | string | undefined) => {
    const time = at === undefined ? Number.NaN : new Date(at).getTime();
    if (Number.isFinite(time) && (lastCheckpointAt === undefined || time > lastCheckpointAt)) {
      lastCheckpointAt = time;
    }
  };
  const { onCheckpoint } = options;
  const sawHead = (head: ChainHead) => {
    sawCheckpoint(head.checkpointAt);
    if (onCheckpoint && head.checkpointJws && head.checkpointAt) {
      const seen = {
        sequence: head.checkpointSequence,
        at: head.checkpointAt.toISOString(),
        jws: head.checkpointJws,
      };
      onCheckpoint(seen, false);
    }
  };
  if (signer || onCheckpoint) sawHead(await readHead(database));
  const metrics: AuditMetrics = options.registry
    ? createAuditMetrics(options.registry, {
        queueLength: () => queue.length,
        oldestPendingSince: () => {
          const queued = queue[0]?.since;
          if (writingSince === undefined) return queued;
          return queued === undefined ? writingSince : Math.min(writingSince, queued);
        },
        ...(signer ? { lastCheckpointAt: () => lastCheckpointAt ?? startedAt } : {}),
      })
    : noAuditMetrics;

  // Batches and checkpoints of this instance run one at a time (other instances wait on the chain lock).
  let exclusiveTail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = exclusiveTail.then(work, work);
    exclusiveTail = run.catch(() => {});
    return run;
  };

  const checkpointIfDue = (force: boolean) =>
    exclusive(async () => {
      if (!signer) return undefined;
      const checkpoint = await checkpointHead(database, signer, {
        force,
        every: checkpointEvery,
        intervalMs: checkpointIntervalMs,
        lockTimeoutMs: recordTimeoutMs,
      });
      if (checkpoint) {
        stats.checkpoints += 1;
        metrics.checkpointed();
        sawCheckpoint(checkpoint.at);
        onCheckpoint?.(checkpoint, true);
      }
      return checkpoint;
    });

  /**
   * The chain's head as this log last saw it: batches are linked onto it and appended in one round
   * trip (`appendRows`). Another instance appending in between makes that attempt write nothing and
   * return the real head; after OPTIMISTIC_ATTEMPTS such misses in a row (instances contending for
   * the chain), the batch is linked while holding the chain lock, which always succeeds.
   */
  let lastSeenHead: { sequence: number; hash: string } | undefined;
  const appendBatch = async (prepared: PreparedEvent[]): Promise<ChainHead> => {
    for (let attempt = 1; attempt <= OPTIMISTIC_ATTEMPTS; attempt += 1) {
      lastSeenHead ??= await readHead(database);
      const rows = linkEvents(lastSeenHead.sequence, lastSeenHead.hash, prepared);
      const { appended, head } = await appendRows(database, rows, recordTimeoutMs);
      sawHead(head);
      lastSeenHead = head;
      if (appended) return head;
      stats.relinks += 1;
    }
    stats.lockedBatches += 1;
    const head = await database.transaction(async (tx) => {
      await lockChain(tx, recordTimeoutMs);
      const before = await readHead(tx);
      const rows = linkEvents(before.sequence, before.hash, prepared);
      await insertRows(tx, rows);
      const last = rows.at(-1);
      return last ? { ...before, sequence: last.sequence, hash: last.hash } : before;
    });
    sawHead(head);
    lastSeenHead = head;
    return head;
  };

  /**
   * Group commit under load. A batch is one round trip, so while lookups keep arriving the next batch
   * would start as soon as the last one ends, and a saturated gateway would make many small
   * transactions, each with its WAL flush. After a batch of more than one event (others are being
   * recorded at the same time), the next one waits until as long as that batch took has passed since
   * it ended, so it gathers what arrives meanwhile; a lone lookup (a batch of one) never waits.
   */
  let lastBatch = { events: 0, endedAt: 0, durationMs: 0 };
  const companyWaitMs = () =>
    lastBatch.events > 1
      ? Math.min(maxCompanyWaitMs, lastBatch.durationMs) - (performance.now() - lastBatch.endedAt)
      : 0;

  const writeBatch = async (batch: Pending[]): Promise<number> => {
    const started = performance.now();
    for (const pending of batch) pending.state = 'writing';
    writingSince = batch[0]?.since;
    try {
      const head = await exclusive(() => appendBatch(batch.map((pending) => pending.prepared)));
      stats.events += batch.length;
      stats.batches += 1;
      const ended = performance.now();
      lastBatch = { events: batch.length, endedAt: ended, durationMs: ended - started };
      metrics.committed(batch.length, (ended - started) / 1000);
      metrics.appended(batch.map((pending) => pending.prepared.kind));
      for (const pending of batch) {
        pending.state = 'done';
        pending.resolve();
      }
      return head.sequence - head.checkpointSequence;
    } catch (error) {
      stats.failedBatches += 1;
      metrics.failed(batch.length);
      logger.error({ err: error, events: batch.length }, 'audit batch failed; its lookups answer 503');
      const unavailable = new AuditUnavailableError(
        'The audit log cannot be written right now, so nothing is released (fail closed). Try again shortly.',
        error,
      );
      for (const pending of batch) {
        pending.state = 'done';
        pending.reject(unavailable);
      }
      return 0;
    } finally {
      writingSince = undefined;
    }
  };

  const runBatches = async () => {
    while (queue.length > 0) {
      const waitMs = queue.length < batchMaxEvents ? companyWaitMs() : 0;
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      const sinceCheckpoint = await writeBatch(queue.splice(0, batchMaxEvents));
      if (signer && sinceCheckpoint >= checkpointEvery) {
        await checkpointIfDue(false).catch((error: unknown) =>
          logger.error({ err: error }, 'audit checkpoint failed'),
        );
      }
    }
  };
  const drain = (): Promise<void> => {
    // `.finally` runs on a later tick, after `draining` is assigned, even when there is nothing to write.
    draining ??= runBatches().finally(() => {
      draining = undefined;
      // An event recorded after the loop's last look at the queue, while `draining` was still set,
      // found a drain running and did not schedule one: start it now, or it waits for a timeout.
      if (queue.length > 0) schedule();
    });
    return draining;
  };

  const schedule = () => {
    if (draining) return; // the running drain takes everything queued before it stops
    if (queue.length >= batchMaxEvents) {
      cancelWake();
      void drain();
    } else if (!wake) {
      const start = () => {
        wake = undefined;
        void drain();
      };
      wake = batchMaxWaitMs > 0 ? setTimeout(start, batchMaxWaitMs) : setImmediate(start);
    }
  };
  const cancelWake = () => {
    if (wake) {
      clearTimeout(wake as NodeJS.Timeout);
      clearImmediate(wake as NodeJS.Immediate);
      wake = undefined;
    }
  };

  const timer = signer
    ? setInterval(
        () => {
          checkpointIfDue(false)
            .then(async (written) => {
              // None due here: another instance may have signed one since this one last looked (a
              // holder of the newest checkpoint learns it here while this instance writes no batch).
              if (
                !written &&
                (onCheckpoint || Date.now() - (lastCheckpointAt ?? startedAt) >= checkpointIntervalMs)
              ) {
                sawHead(await readHead(database));
              }
            })
            .catch((error: unknown) => logger.warn({ err: error }, 'timed audit checkpoint failed'));
        },
        Math.max(50, checkpointIntervalMs / 2),
      )
    : undefined;
  timer?.unref();

  const flush = async () => {
    cancelWake();
    while (queue.length > 0 || draining) await drain();
  };

  return {
    record(event: AuditEvent): Promise<void> {
      if (closed) {
        return Promise.reject(
          new AuditUnavailableError('The gateway is shutting down; the audit log takes no new events.'),
        );
      }
      let prepared: PreparedEvent;
      try {
        prepared = prepareEvent(event, hashSubject);
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise<void>((resolve, reject) => {
        const timeout = setTimeout(() => {
          if (pending.state === 'done') return;
          // Still queued: it will not be written. Already in a batch: it may yet commit, which is the
          // safe side (an event for a lookup that answered 503, never a record released unaudited).
          const index = pending.state === 'queued' ? queue.indexOf(pending) : -1;
          if (index >= 0) queue.splice(index, 1);
          pending.state = 'done';
          reject(
            new AuditUnavailableError(
              `The audit log did not commit within ${recordTimeoutMs} ms; nothing is released.`,
            ),
          );
        }, recordTimeoutMs);
        const pending: Pending = {
          prepared,
          state: 'queued',
          since: performance.now(),
          resolve: () => {
            clearTimeout(timeout);
            resolve();
          },
          reject: (error) => {
            clearTimeout(timeout);
            reject(error);
          },
        };
        queue.push(pending);
        schedule();
      });
    },
    flush,
    checkpoint: () => checkpointIfDue(true),
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      await flush();
      if (signer) {
        await checkpointIfDue(true).catch((error: unknown) =>
          logger.warn({ err: error }, 'final audit checkpoint failed'),
        );
      }
    },
    stats: () => ({ ...stats }),
  };
}
