/**
 * Audit log throughput on real PostgreSQL, against a baseline in the same run:
 *   1. audit events appended: no-op recorder vs. the hash-chained log (group commit) vs. the log
 *      with one event per transaction (what group commit saves);
 *   2. lookups (the real LookupService pipeline, provider answering at once) with audit off (no-op
 *      recorder) vs. audit on, and audit on plus the signed response (ES256).
 * Run: node --import tsx test/bench/audit-throughput.ts [events=20000] [concurrency=200]
 * Uses DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/test); creates and drops its
 * own database.
 */
import { randomBytes } from 'node:crypto';
import type { AuditEvent, AuditRecorder } from '../../gateway/audit/audit-events.js';
import { createAuditLog } from '../../gateway/audit/audit-log.js';
import { verifyAuditLog } from '../../gateway/audit/audit-verify.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import {
  LookupService,
  type LookupServiceDependencies,
  recordDigest,
} from '../../gateway/lookups/lookup-service.js';
import { unkeyedSubjectKey } from '../../gateway/protocol/subject-key.js';
import { topicNames } from '../../gateway/protocol/topics.js';
import { createResponseSigner } from '../../gateway/signing/response-signer.js';
import { openSigningKeyRing } from '../../gateway/signing/signing-keys.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { registeredTypes, signaturesNotChecked } from '../support/department-keys.js';
import { adminDatabaseUrl, databaseUrlFor, withAdminClient } from '../support/postgres-harness.js';

const EVENTS = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? 200);
const logger = createLogger('silent');
const requester = { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' };
const purpose = { matter: 'CA-0201', caseRef: '2026-000123', officer: 'officer-042' };
const RECORD = {
  name: '张三',
  residentIdNumber: '11010519491231002X',
  validUntil: '2036-01-01',
  address: '北京市东城区',
};

function event(index: number): AuditEvent {
  return {
    kind: 'lookup',
    lookupId: `bench-${index}`,
    at: new Date().toISOString(),
    requester,
    purpose,
    certificateType: 'resident-id-card',
    subject: { residentIdNumber: '11010519491231002X' },
    provider: 'public-security',
    outcome: 'granted',
    status: 200,
    latencyMs: 1.234,
    recordDigest: 'ab'.repeat(32),
  };
}

/** Runs `total` operations with `concurrency` in flight; resolves with operations per second. */
async function measure(
  total: number,
  concurrency: number,
  operation: (index: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await operation(next++);
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

function lookupService(audit: AuditRecorder): LookupService {
  type Deps = LookupServiceDependencies;
  const ok = { ok: true, errors: [] };
  return new LookupService({
    catalog: {
      get: () => ({ provider: 'public-security', schemaVersion: 1 }),
      validateSubject: () => ok,
      recordFields: () => Object.keys(RECORD),
      validateEnvelope: () => ok,
      validateRecord: () => ok,
      providers: () => [],
    } as unknown as Deps['catalog'],
    bus: { publish: async () => {} } as unknown as Deps['bus'],
    replies: {
      request: async (request: { correlationId: string }) => ({
        topic: 't',
        partition: 0,
        offset: '0',
        key: undefined,
        headers: {},
        timestamp: Date.now(),
        value: JSON.stringify({
          version: 1,
          lookupId: request.correlationId,
          outcome: 'found',
          certificateType: 'resident-id-card',
          schemaVersion: 1,
          record: RECORD,
          connector: { department: 'public-security', instanceId: 'ps-1' },
        }),
      }),
    } as unknown as Deps['replies'],
    directory: { liveInstances: () => ['ps-1'] } as unknown as Deps['directory'],
    registrations: registeredTypes('resident-id-card'),
    signatures: signaturesNotChecked,
    topics: topicNames('bench'),
    policy: { authorize: async () => ({}) },
    audit,
    logger,
    timeoutMs: 5000,
    subjectKey: unkeyedSubjectKey,
  });
}

const body = {
  certificateType: 'resident-id-card',
  subject: { residentIdNumber: '11010519491231002X' },
  purpose,
};

async function main() {
  const adminUrl = adminDatabaseUrl();
  const name = `silobridge_bench_${randomBytes(4).toString('hex')}`;
  await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const database: Database = createPostgresDatabase({
    connectionString: databaseUrlFor(adminUrl, name),
    maxConnections: 10,
  });
  const rows: Array<[string, number]> = [];
  const report = (label: string, perSecond: number) => {
    rows.push([label, perSecond]);
    process.stdout.write(`${label.padEnd(58)} ${Math.round(perSecond).toString().padStart(8)} /s\n`);
  };
  try {
    await migrate(database, migrationsDir);
    const keys = await openSigningKeyRing({ database, secret: randomBytes(32).toString('hex') });
    const noop: AuditRecorder = { record: async () => {} };
    process.stdout.write(
      `PostgreSQL ${new URL(adminUrl).host}, ${EVENTS} operations, ${CONCURRENCY} concurrent\n`,
    );

    // Warm up (JIT, connections) on a throwaway log.
    const warm = await createAuditLog({ database, hmacKey: 'w'.repeat(32), logger });
    await measure(2000, CONCURRENCY, (i) => warm.record(event(i)));
    await warm.close();

    report(
      'audit events: no-op recorder (audit off)',
      await measure(EVENTS, CONCURRENCY, (i) => noop.record(event(i))),
    );
    const grouped = await createAuditLog({ database, hmacKey: 'w'.repeat(32), logger, signer: keys });
    report(
      'audit events: hash-chained log, group commit',
      await measure(EVENTS, CONCURRENCY, (i) => grouped.record(event(i))),
    );
    const batches = grouped.stats();
    await grouped.close();
    const single = await createAuditLog({ database, hmacKey: 'w'.repeat(32), logger, batchMaxEvents: 1 });
    const fewer = Math.max(500, Math.floor(EVENTS / 10));
    report(
      'audit events: one event per transaction (no group commit)',
      await measure(fewer, CONCURRENCY, (i) => single.record(event(i))),
    );
    await single.close();

    const off = lookupService(noop);
    report(
      'lookups: audit off (no-op recorder)',
      await measure(EVENTS, CONCURRENCY, () => off.lookup(body, requester)),
    );
    const log = await createAuditLog({ database, hmacKey: 'w'.repeat(32), logger, signer: keys });
    const on = lookupService(log);
    report(
      'lookups: audit on (hash-chained log on PostgreSQL)',
      await measure(EVENTS, CONCURRENCY, () => on.lookup(body, requester)),
    );
    const signer = createResponseSigner(keys);
    report(
      'lookups: audit on + signed response (ES256 JWS)',
      await measure(EVENTS, CONCURRENCY, async () => {
        const result = await on.lookup(body, requester);
        return signer.signLookupResponse({ ...result, requester, recordDigest: recordDigest(result.record) });
      }),
    );
    await log.close();
    keys.close();

    const verified = await verifyAuditLog(database);
    const started = performance.now();
    await verifyAuditLog(database);
    process.stdout.write(
      `group commit: ${batches.events} events in ${batches.batches} transactions (${(batches.events / batches.batches).toFixed(1)} per batch)\n` +
        `chain after the run: ${verified.ok ? 'valid' : 'INVALID'}, ${verified.events} events, ${verified.checkpoints.verified} checkpoints; ` +
        `verify took ${Math.round(performance.now() - started)} ms (${Math.round(verified.events / ((performance.now() - started) / 1000))} events/s)\n`,
    );
    const ratio = (rows[4]?.[1] ?? 0) / (rows[3]?.[1] ?? 1);
    process.stdout.write(`lookup throughput with audit on = ${(ratio * 100).toFixed(0)}% of audit off\n`);
  } finally {
    await database.close();
    await withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

await main();
