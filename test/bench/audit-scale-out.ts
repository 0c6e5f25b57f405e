/**
 * Issue 12's scale-out question: the audit log is one hash chain, every append takes its advisory lock
 * (audit-store.ts), so gateway instances sharing a database append one batch at a time. This measures
 * the durable append rate of one writer process against two writer processes appending to the same
 * PostgreSQL database at once, in one run: each writer is its own Node process running the gateway's
 * audit log (createAuditLog with its group commit, checkpoints signed every 1,000 events by a key ring
 * on the shared database, a pool of 10 connections: what a gateway instance runs) with `--concurrency`
 * record() calls outstanding at all times, as a loaded gateway has lookups waiting for their events.
 * Phases alternate (1 writer, 2 writers) for `--rounds` rounds of `--seconds` each after a warm-up;
 * the chain is verified with the project's verifier (verifyAuditLog) at the end.
 * Where the time goes: each writer times its appends through a wrapper of the database it hands the
 * log: the one-statement appends (audit_append: lock wait, head check, INSERT and COMMIT in the
 * server, the batch linked and hashed before it, outside the lock), how many of them found the head
 * moved by the other writer (relinks), and the batches that then took the chain lock while linking
 * (connect+BEGIN, the lock's query, the head read, the JavaScript between head and INSERT, the INSERT,
 * COMMIT); and reports its CPU.
 *   node --import tsx test/bench/audit-scale-out.ts [--seconds 10] [--rounds 2] [--concurrency 200] [--json file]
 *   (npm run bench:audit-scale-out -- ...)
 * Uses DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/test); creates and drops its
 * own database.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { AuditEvent } from '../../gateway/audit/audit-events.js';
import { type AuditLog, createAuditLog } from '../../gateway/audit/audit-log.js';
import { verifyAuditLog } from '../../gateway/audit/audit-verify.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import { openSigningKeyRing } from '../../gateway/signing/signing-keys.js';
import type { Database, Queryable } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { adminDatabaseUrl, databaseUrlFor, withAdminClient } from '../support/postgres-harness.js';
import { type BenchChild, cpuSeconds, serveOrchestrator, startBenchChild } from './bench-process.js';

const HMAC_KEY = 'scale-out-bench-hmac-key-0123456789abcdef';
const STAGES = ['append', 'connect', 'lock', 'head', 'link', 'insert', 'commit', 'other'] as const;
type Stage = (typeof STAGES)[number];

function event(index: number): AuditEvent {
  return {
    kind: 'lookup',
    lookupId: `scale-${process.pid}-${index}`,
    at: new Date().toISOString(),
    requester: { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' },
    purpose: { matter: 'CA-0201', caseRef: '2026-000123', officer: 'officer-042' },
    certificateType: 'resident-id-card',
    subject: { residentIdNumber: '11010519491231002X' },
    provider: 'public-security',
    outcome: 'granted',
    status: 200,
    latencyMs: 1.234,
    recordDigest: 'ab'.repeat(32),
  };
}

/** Milliseconds spent per stage of the appends (and the number of statements and transactions). */
interface Timings {
  /** One-statement appends, written or relinked, and locked transactions. */
  transactions: number;
  ms: Record<Stage, number>;
}

/** The database as the audit log sees it, timing every append and every transaction's stages. */
function timedDatabase(database: Database, timings: Timings): Database {
  const stage = (sql: string): Stage =>
    sql.includes('pg_advisory_xact_lock')
      ? 'lock'
      : sql.includes('LEFT JOIN LATERAL')
        ? 'head'
        : sql.trimStart().startsWith('INSERT INTO audit_events')
          ? 'insert'
          : 'other';
  return {
    kind: database.kind,
    async query(sql, params) {
      if (!sql.includes('audit_append')) return database.query(sql, params);
      const start = performance.now();
      const answer = await database.query(sql, params);
      timings.ms.append += performance.now() - start;
      timings.transactions += 1;
      return answer as never;
    },
    exec: (sql) => database.exec(sql),
    check: () => database.check(),
    close: () => database.close(),
    async transaction(work) {
      const t0 = performance.now();
      let begun = 0;
      let lastEnd = 0;
      let done = 0;
      const result = await database.transaction(async (tx) => {
        begun = performance.now();
        timings.ms.connect += begun - t0;
        lastEnd = begun;
        const timed: Queryable = {
          exec: (sql) => tx.exec(sql),
          async query(sql, params) {
            const start = performance.now();
            // Work between two queries of a batch (linking and hashing it, after the head read).
            if (stage(sql) === 'insert') timings.ms.link += start - lastEnd;
            const answer = await tx.query(sql, params);
            lastEnd = performance.now();
            timings.ms[stage(sql)] += lastEnd - start;
            return answer as never;
          },
        };
        const value = await work(timed);
        done = performance.now();
        return value;
      });
      timings.ms.commit += performance.now() - done;
      timings.transactions += 1;
      return result;
    },
  };
}

// ---- the writer: one process, one audit log, `concurrency` record() calls outstanding ----

async function writer(url: string, secret: string): Promise<void> {
  const timings: Timings = {
    transactions: 0,
    ms: Object.fromEntries(STAGES.map((s) => [s, 0])) as Timings['ms'],
  };
  const database = createPostgresDatabase({ connectionString: url, maxConnections: 10 });
  const keys = await openSigningKeyRing({ database, secret });
  const log: AuditLog = await createAuditLog({
    database: timedDatabase(database, timings),
    hmacKey: HMAC_KEY,
    logger: createLogger('silent'),
    signer: keys,
  });
  let next = 0;
  serveOrchestrator(
    { pid: process.pid },
    async (message) => {
      const concurrency = Number(message.concurrency);
      // Start at the agreed wall-clock moment, so two writers overlap for the whole phase.
      const startAt = Number(message.startAt ?? Date.now());
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));
      const before = { ...log.stats() };
      const timingsBefore = { transactions: timings.transactions, ms: { ...timings.ms } };
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const until = started + Number(message.seconds) * 1000;
      let committed = 0;
      let failed = 0;
      let lastCommit = started;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < until) {
            try {
              await log.record(event(next++));
              committed += 1;
              lastCommit = performance.now();
            } catch {
              failed += 1;
            }
          }
        }),
      );
      const cpu = process.cpuUsage(cpuBefore);
      const stats = log.stats();
      const ms = Object.fromEntries(STAGES.map((s) => [s, timings.ms[s] - timingsBefore.ms[s]]));
      return {
        committed,
        failed,
        seconds: (lastCommit - started) / 1000,
        batches: stats.batches - before.batches,
        checkpoints: stats.checkpoints - before.checkpoints,
        relinks: stats.relinks - before.relinks,
        lockedBatches: stats.lockedBatches - before.lockedBatches,
        transactions: timings.transactions - timingsBefore.transactions,
        ms,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
      };
    },
    async () => {
      await log.close();
      keys.close();
      await database.close();
    },
  );
}

// ---- the orchestrator ----

interface WriterResult {
  committed: number;
  failed: number;
  seconds: number;
  batches: number;
  checkpoints: number;
  relinks: number;
  lockedBatches: number;
  transactions: number;
  ms: Record<Stage, number>;
  cpuSeconds: number;
}

/** Busy share of the machine's CPUs (/proc/stat) between two readings. */
function cpuTicks(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

async function runPhase(writers: BenchChild[], seconds: number, concurrency: number) {
  const startAt = Date.now() + 300;
  const machineBefore = cpuTicks();
  const answers = await Promise.all(
    writers.map((w) => w.request({ type: 'run', seconds, concurrency, startAt })),
  );
  const machineAfter = cpuTicks();
  const results = answers as unknown as WriterResult[];
  const busy = (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total);
  return { results, machineBusy: busy };
}

function describe(label: string, phase: { results: WriterResult[]; machineBusy: number }) {
  const { results } = phase;
  const total = results.reduce((sum, r) => sum + r.committed / r.seconds, 0);
  const per = results.map((r) => r.committed / r.seconds);
  const batches = results.reduce((sum, r) => sum + r.transactions, 0);
  const events = results.reduce((sum, r) => sum + r.committed, 0);
  const stageMs = Object.fromEntries(
    STAGES.map((s) => [s, results.reduce((sum, r) => sum + r.ms[s], 0) / Math.max(batches, 1)]),
  ) as Record<Stage, number>;
  const seconds = Math.max(...results.map((r) => r.seconds));
  // The chain lock is held from its grant to COMMIT: at most a whole one-statement append (its lock
  // wait included), and in a locked transaction head, link, insert, commit (and checkpoints).
  const heldMs =
    stageMs.append + stageMs.head + stageMs.link + stageMs.insert + stageMs.commit + stageMs.other;
  const relinks = results.reduce((sum, r) => sum + r.relinks, 0);
  const locked = results.reduce((sum, r) => sum + r.lockedBatches, 0);
  const appended = results.reduce((sum, r) => sum + r.batches, 0);
  const line =
    `${label}: ${total.toFixed(0)} events/s in all (${per.map((p) => p.toFixed(0)).join(' + ')}), ` +
    `${(events / Math.max(appended, 1)).toFixed(0)} events per batch, ${batches} statements or transactions ` +
    `for ${appended} batches (${relinks} relinked, ${locked} under the lock), ` +
    `${results.reduce((s, r) => s + r.failed, 0)} failed; per statement or transaction ms: ` +
    STAGES.map((s) => `${s} ${stageMs[s].toFixed(2)}`).join(', ') +
    `; lock held at most ~${heldMs.toFixed(2)} ms each, ${((heldMs * batches) / 1000 / seconds).toFixed(2)} of the time; ` +
    `writer CPU ${results.map((r) => ((r.cpuSeconds / r.seconds) * 100).toFixed(0)).join(' + ')}%, ` +
    `machine busy ${(phase.machineBusy * 100).toFixed(0)}% of ${os.cpus().length} CPUs`;
  process.stdout.write(`${line}\n`);
  return {
    label,
    total,
    per,
    eventsPerBatch: events / Math.max(appended, 1),
    relinks,
    lockedBatches: locked,
    stageMs,
    heldMs,
    ...phase,
  };
}

async function orchestrate(): Promise<void> {
  const { values: args } = parseArgs({
    args: process.argv.slice(2),
    options: {
      seconds: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '200' },
      warmup: { type: 'string', default: '3' },
      json: { type: 'string' },
    },
  });
  const seconds = Number(args.seconds);
  const concurrency = Number(args.concurrency);
  const adminUrl = adminDatabaseUrl();
  const name = `silobridge_bench_${randomBytes(4).toString('hex')}`;
  await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = databaseUrlFor(adminUrl, name);
  const database = createPostgresDatabase({ connectionString: url, maxConnections: 2 });
  const writers: BenchChild[] = [];
  try {
    await migrate(database, migrationsDir);
    const secret = randomBytes(32).toString('hex');
    // The signing key is created once here, so the writers open the same one (two gateways share it).
    (await openSigningKeyRing({ database, secret })).close();
    const version = await database.query<{ server_version: string }>('SHOW server_version');
    process.stdout.write(
      `PostgreSQL ${version.rows[0]?.server_version} at ${new URL(adminUrl).host}; ${os.cpus().length} x ` +
        `${os.cpus()[0]?.model}; load average ${os
          .loadavg()
          .map((n) => n.toFixed(2))
          .join(', ')}; ` +
        `${concurrency} record() calls outstanding per writer, ${seconds} s per phase\n`,
    );
    for (const label of ['writer A', 'writer B']) {
      writers.push(startBenchChild(label, 'audit-scale-out.ts', { args: ['writer', url, secret] }));
    }
    await Promise.all(writers.map((w) => w.ready));
    for (const w of writers) await runPhase([w], Number(args.warmup), concurrency);
    const phases = [];
    for (let round = 0; round < Number(args.rounds); round++) {
      phases.push(
        describe(`round ${round + 1}, 1 writer `, await runPhase(writers.slice(0, 1), seconds, concurrency)),
      );
      phases.push(describe(`round ${round + 1}, 2 writers`, await runPhase(writers, seconds, concurrency)));
    }
    const cpu = writers.map((w) => cpuSeconds(w.pid));
    for (const w of writers) await w.stop();
    const started = performance.now();
    const verified = await verifyAuditLog(database);
    const verifyMs = performance.now() - started;
    process.stdout.write(
      `chain: ${verified.ok ? 'valid' : 'INVALID'}, ${verified.events} events, ` +
        `${verified.checkpoints.verified} checkpoints verified; verify took ${(verifyMs / 1000).toFixed(1)} s ` +
        `(writers' CPU over the whole run: ${cpu.map((c) => c.toFixed(1)).join(', ')} s)\n`,
    );
    if (args.json) await writeFile(args.json, JSON.stringify({ phases, verified }, null, 2));
    if (!verified.ok) process.exitCode = 1;
  } finally {
    for (const w of writers) await w.stop().catch(() => {});
    await database.close();
    await withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

if (process.argv[2] === 'writer') await writer(process.argv[3] ?? '', process.argv[4] ?? '');
else await orchestrate();
