/**
 * Prometheus metrics of the audit log: what was appended, in what batches, how long a commit took, what
 * failed, how long the oldest event has waited, and how old the chain's last checkpoint is.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface AuditMetrics {
  appended(kinds: string[]): void;
  committed(batchSize: number, seconds: number): void;
  failed(batchSize: number): void;
  checkpointed(): void;
}

/** What the gauges read from the log at each scrape. */
export interface AuditLogState {
  /** Events waiting for the next batch. */
  queueLength(): number;
  /** `performance.now()` when the oldest event not yet committed (queued or being written) was recorded. */
  oldestPendingSince(): number | undefined;
  /** When the chain's newest checkpoint was signed (ms since the epoch); absent when the log signs none. */
  lastCheckpointAt?: () => number;
}

export const noAuditMetrics: AuditMetrics = {
  appended: () => {},
  committed: () => {},
  failed: () => {},
  checkpointed: () => {},
};

export function createAuditMetrics(registry: Registry, state: AuditLogState): AuditMetrics {
  const events = new Counter({
    name: 'silobridge_audit_events_total',
    help: 'Audit events committed to the hash chain, by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'silobridge_audit_batch_size',
    help: 'Events per audit batch transaction (group commit)',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: 'silobridge_audit_commit_seconds',
    help: 'Time to commit one audit batch, chain lock wait included',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'silobridge_audit_failed_events_total',
    help: 'Audit events that could not be committed (their lookups answered 503, nothing released)',
    registers: [registry],
  });
  const checkpoints = new Counter({
    name: 'silobridge_audit_checkpoints_total',
    help: 'Signed checkpoints this instance wrote',
    registers: [registry],
  });
  new Gauge({
    name: 'silobridge_audit_queue_length',
    help: 'Audit events waiting for the next batch',
    registers: [registry],
    collect() {
      this.set(state.queueLength());
    },
  });
  new Gauge({
    name: 'silobridge_audit_oldest_pending_age_seconds',
    help: 'How long the oldest audit event not yet committed has waited (0: none waiting)',
    registers: [registry],
    collect() {
      const since = state.oldestPendingSince();
      this.set(since === undefined ? 0 : Math.max(0, performance.now() - since) / 1000);
    },
  });
  const { lastCheckpointAt } = state;
  if (lastCheckpointAt) {
    new Gauge({
      name: 'silobridge_audit_last_checkpoint_age_seconds',
      help: "Seconds since the chain's newest signed checkpoint, by any instance (since start if it has none)",
      registers: [registry],
      collect() {
        this.set(Math.max(0, Date.now() - lastCheckpointAt()) / 1000);
      },
    });
  }
  return {
    appended: (kinds) => {
      for (const kind of kinds) events.inc({ kind });
    },
    committed: (size, seconds) => {
      batchSize.observe(size);
      commitSeconds.observe(seconds);
    },
    failed: (size) => failures.inc(size),
    checkpointed: () => checkpoints.inc(),
  };
}
