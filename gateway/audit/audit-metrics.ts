/** Prometheus metrics of the audit log: what was appended, in what batches, how long a commit took, what failed. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface AuditMetrics {
  appended(kinds: string[]): void;
  committed(batchSize: number, seconds: number): void;
  failed(batchSize: number): void;
  checkpointed(): void;
}

export const noAuditMetrics: AuditMetrics = {
  appended: () => {},
  committed: () => {},
  failed: () => {},
  checkpointed: () => {},
};

export function createAuditMetrics(registry: Registry, queueLength: () => number): AuditMetrics {
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
      this.set(queueLength());
    },
  });
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
