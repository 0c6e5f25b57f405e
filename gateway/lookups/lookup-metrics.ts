/**
 * Prometheus metrics of lookups: who asked which department for what and how it ended, why lookups
 * were denied, how long they took, which replies were dropped, and how many connector instances
 * each department has alive. Every label value is bounded: departments are registered ones,
 * certificate types and providers come from the catalog, reasons from a fixed list.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import { BoundedLabel, OTHER, UNKNOWN } from '../metrics/label-values.js';
import type { LookupObservation } from './lookup-service.js';

export interface LookupMetricsOptions {
  registry: Registry;
  catalog: Pick<SchemaCatalog, 'list' | 'providers'>;
  /** Every reason a denial can give; any other is counted as `other`. */
  denialReasons: readonly string[];
  /** Live connector instances per department, read at each scrape. */
  liveConnectors(): ReadonlyMap<string, number>;
  replyStats(): { lateReplies: number; unknownReplies: number };
}

export interface LookupMetrics {
  observe(lookup: LookupObservation): void;
  /**
   * The registered departments, and those with a connector registration (each gets a connector
   * series, 0 when none is alive). Until the first call every requester department counts as `other`.
   */
  setDepartments(registered: Iterable<string>, withConnector: Iterable<string>): void;
}

export function createLookupMetrics(options: LookupMetricsOptions): LookupMetrics {
  const { registry, catalog } = options;
  const types = new BoundedLabel(
    UNKNOWN,
    catalog.list().map((type) => type.certificateType),
  );
  const providers = new BoundedLabel(UNKNOWN, catalog.providers());
  const departments = new BoundedLabel(OTHER);
  const connectorDepartments = new BoundedLabel(OTHER);
  const reasons = new BoundedLabel(OTHER, options.denialReasons);

  const lookups = new Counter({
    name: 'silobridge_lookups_total',
    help: 'Lookups answered, by requester department, provider department, certificate type and outcome',
    labelNames: ['requester_department', 'provider_department', 'certificate_type', 'outcome'] as const,
    registers: [registry],
  });
  const denials = new Counter({
    name: 'silobridge_lookup_denials_total',
    help: 'Lookups denied (403, 429), by requester department, certificate type and the policy reason',
    labelNames: ['requester_department', 'certificate_type', 'reason'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'silobridge_lookup_duration_seconds',
    help: 'Lookups answered, by certificate type and outcome: time until the audit event was recorded',
    labelNames: ['certificate_type', 'outcome'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Counter({
    name: 'silobridge_lookup_replies_dropped_total',
    help: 'Replies dropped: late (after the lookup timed out) or with an unknown correlation id',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      const stats = options.replyStats();
      this.reset();
      this.inc({ reason: 'late' }, stats.lateReplies);
      this.inc({ reason: 'unknown-correlation-id' }, stats.unknownReplies);
    },
  });
  new Gauge({
    name: 'silobridge_connector_live_instances',
    help: 'Connector instances alive (heartbeat up and recent), per department with a connector registration',
    labelNames: ['department'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const live = options.liveConnectors();
      for (const department of connectorDepartments.values()) this.set({ department }, 0);
      for (const [department, count] of live) {
        // Heartbeats are signed by registered departments; a department not (or no longer) registered
        // for a connector still must not add a series.
        if (connectorDepartments.has(department)) this.set({ department }, count);
      }
    },
  });

  return {
    observe(lookup) {
      const requester = departments.of(lookup.requesterDepartment);
      const certificateType = types.of(lookup.certificateType);
      lookups.inc({
        requester_department: requester,
        provider_department: providers.of(lookup.providerDepartment),
        certificate_type: certificateType,
        outcome: lookup.outcome,
      });
      duration.observe({ certificate_type: certificateType, outcome: lookup.outcome }, lookup.seconds);
      if (lookup.outcome === 'denied') {
        denials.inc({
          requester_department: requester,
          certificate_type: certificateType,
          reason: reasons.of(lookup.reason),
        });
      }
    },
    setDepartments(registered, withConnector) {
      departments.replace(registered);
      connectorDepartments.replace(withConnector);
    },
  };
}
