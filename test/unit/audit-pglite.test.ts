import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Audit } from '../../gateway/audit/audit.js';
import { exportAuditLog } from '../../gateway/audit/audit-export.js';
import { searchEvents } from '../../gateway/audit/audit-query.js';
import { verifyAuditLog, verifyExport } from '../../gateway/audit/audit-verify.js';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import { secretFiles } from '../../gateway/foundation/secrets.js';
import { drawSample } from '../../gateway/review/review-sampling.js';
import { drawReviewSample } from '../../gateway/review/review-store.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';
import { type AuditHarness, startAuditHarness } from '../support/audit-harness.js';

// The embedded database `npm start` uses runs the same SQL: chain, search, sampling, export, verify.
describe('the audit log on embedded PGlite', () => {
  let database: Database;
  let harness: AuditHarness;
  let audit: Audit;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-audit-pglite-'));
    database = await createPgliteDatabase(undefined);
    await migrate(database, migrationsDir);
    harness = await startAuditHarness(database, dataDir, { auditCheckpointEvery: 10 });
    audit = harness.audit;
  });
  afterAll(async () => {
    await harness?.stop();
    await database?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('makes its own secrets on first start, readable by the owner only', async () => {
    for (const file of Object.values(secretFiles(dataDir))) {
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    }
  });

  it('appends, searches, samples, exports and verifies', async () => {
    await Promise.all(
      Array.from({ length: 25 }, (_, index) =>
        audit.log.record({
          kind: 'lookup',
          lookupId: `l-${index}`,
          at: `2026-02-${String(1 + index).padStart(2, '0')}T10:00:00.000Z`,
          requester: { department: 'civil-affairs' },
          certificateType: 'resident-id-card',
          subject: { residentIdNumber: '11010519491231002X' },
          outcome: 'granted',
          status: 200,
          latencyMs: 1,
        }),
      ),
    );
    await audit.log.checkpoint();
    const subjectHashes = audit.hashSubject({ residentIdNumber: '11010519491231002x' });
    const found = await searchEvents(
      database,
      { subjectHashes, from: '2026-02-10T00:00:00.000Z' },
      { order: 'asc', limit: 100 },
    );
    expect(found.events.map((row) => row.event.lookupId)).toEqual(
      Array.from({ length: 16 }, (_, i) => `l-${i + 9}`),
    );

    const sample = await drawReviewSample(database, '00000000-0000-4000-8000-000000000001', 'test', {
      from: '2026-02-01T00:00:00.000Z',
      to: '2026-03-01T00:00:00.000Z',
      size: 5,
      seed: 'pglite',
      outcomes: ['granted'],
      reviewers: [],
    });
    const population = Array.from({ length: 25 }, (_, i) => i + 1);
    expect(sample.items.map((item) => item.sequence)).toEqual(drawSample('pglite', population, 5));

    // One batch of 25 concurrent events, one checkpoint after it (checkpoints go at batch boundaries).
    const report = await verifyAuditLog(database);
    expect(report).toMatchObject({
      ok: true,
      events: 25,
      checkpoints: { total: 1, verified: 1, latest: { sequence: 25 } },
    });
    const lines: string[] = [];
    await exportAuditLog(database, (line) => {
      lines.push(line.trimEnd());
    });
    expect(
      (
        await verifyExport(
          (async function* () {
            yield* lines;
          })(),
        )
      ).ok,
    ).toBe(true);
  });
});
