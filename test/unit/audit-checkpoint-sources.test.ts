/**
 * `verify --against` reads checkpoints in every form they are handed out (NDJSON lines, saved lookup
 * and batch responses, bare JWS lines, a folder, a URL), refuses a source that holds none, and says
 * which events the held copies pin, which only the database's checkpoints cover, and which no
 * checkpoint covers yet (embedded PGlite; tampering is tested on PostgreSQL, audit-checkpoint-insider).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../gateway/audit/audit-log.js';
import { verifyAuditLog } from '../../gateway/audit/audit-verify.js';
import { checkpointLine } from '../../gateway/audit/checkpoint-publication.js';
import {
  CheckpointSourceError,
  checkpointsInText,
  readHeldCheckpoints,
} from '../../gateway/audit/checkpoint-sources.js';
import { formatVerifyReport } from '../../gateway/cli/audit-commands.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import { openSigningKeyRing } from '../../gateway/signing/signing-keys.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';

const event = (lookupId: string) => ({
  kind: 'lookup' as const,
  lookupId,
  at: new Date().toISOString(),
  requester: { department: 'civil-affairs' },
  certificateType: 'resident-id-card',
  outcome: 'granted' as const,
  status: 200,
  latencyMs: 1,
});

describe('checkpoints held outside the database', () => {
  let database: Database;
  let dir: string;
  const jws: string[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'silobridge-checkpoint-sources-'));
    database = await createPgliteDatabase(undefined);
    await migrate(database, migrationsDir);
    const keys = await openSigningKeyRing({ database, secret: 'checkpoint-sources-unit-secret-0123456789' });
    const log = await createAuditLog({
      database,
      hmacKey: 'checkpoint-sources-unit-hmac-key-0123456789abc',
      logger: createLogger('silent'),
      signer: keys,
      checkpointEvery: 1_000_000,
      checkpointIntervalMs: 86_400_000,
    });
    // Checkpoints at 3, 6 and 9; then three events no checkpoint covers.
    for (let index = 1; index <= 12; index += 1) {
      await log.record(event(`l-${index}`));
      if (index % 3 === 0 && index <= 9) {
        const checkpoint = await log.checkpoint();
        if (checkpoint) {
          jws.push(checkpoint.jws);
          lines.push(checkpointLine(checkpoint));
        }
      }
    }
    await log.flush();
    keys.close();
  });
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds checkpoints in feed lines, saved responses, batch answers and bare JWS lines', () => {
    expect(checkpointsInText(lines.join(''))).toEqual(jws);
    const response = { lookupId: 'l-1', record: { name: 'x' }, signature: 'a.b.c', checkpoint: jws[1] };
    expect(checkpointsInText(JSON.stringify(response, null, 2))).toEqual([jws[1]]);
    const batch = {
      results: [
        { index: 0, status: 200, lookup: response },
        { index: 1, status: 404 },
      ],
    };
    expect(checkpointsInText(JSON.stringify(batch))).toEqual([jws[1]]);
    expect(checkpointsInText(`${jws[0]}\nnot a checkpoint\n${jws[2]}\n`)).toEqual([jws[0], jws[2]]);
    // A lookup response's own signature is a JWS too, but not a checkpoint.
    expect(
      checkpointsInText(JSON.stringify({ signature: jws[0]?.replace(/^[^.]+/, 'eyJ0eXAiOiJ4In0') })),
    ).toEqual([]);
  });

  it('reads files, folders and URLs, and refuses a source without a checkpoint', async () => {
    await mkdir(path.join(dir, 'copies', '2026-05-01'), { recursive: true });
    await writeFile(
      path.join(dir, 'copies', '2026-05-01', 'checkpoint-0000000000000003.ndjson'),
      lines[0] ?? '',
    );
    await writeFile(path.join(dir, 'copies', '.checkpoint-x.tmp'), lines[2] ?? '');
    expect(await readHeldCheckpoints(path.join(dir, 'copies'))).toEqual([
      { source: path.join(dir, 'copies'), jws: jws[0] },
    ]);
    const fakeFetch = (async () => new Response(lines.join(''), { status: 200 })) as typeof fetch;
    expect(
      await readHeldCheckpoints('https://gateway.example/.well-known/audit-checkpoints', {
        fetch: fakeFetch,
      }),
    ).toHaveLength(3);
    // The feed is paged: every page is read, following Link: rel="next".
    const pages = (async (url: string | URL | Request) =>
      String(url).includes('after=3')
        ? new Response(lines.slice(1).join(''), { status: 200 })
        : new Response(lines[0], {
            status: 200,
            headers: { Link: '</.well-known/audit-checkpoints?after=3&limit=1>; rel="next"' },
          })) as typeof fetch;
    const paged = await readHeldCheckpoints('https://gateway.example/.well-known/audit-checkpoints?limit=1', {
      fetch: pages,
    });
    expect(paged.map((held) => held.jws)).toEqual(jws);
    await writeFile(path.join(dir, 'empty.json'), '{"lookupId":"x"}');
    await expect(readHeldCheckpoints(path.join(dir, 'empty.json'))).rejects.toThrow(CheckpointSourceError);
    await expect(readHeldCheckpoints(path.join(dir, 'missing.json'))).rejects.toThrow(/no such file/);
  });

  it('says which events the copies pin, which only the database covers, and which nothing covers yet', async () => {
    const report = await verifyAuditLog(database, { held: [{ source: 'response.json', jws: jws[0] ?? '' }] });
    expect(report.ok).toBe(true);
    expect(report.witness).toMatchObject({
      sources: [{ source: 'response.json', checkpoints: 1, latest: 3 }],
      held: { total: 1, valid: 1, agreeing: 1 },
      heldUpTo: 3,
      signedUpTo: 9,
      heldNowhereElse: { from: 4, to: 9 },
      unwitnessed: { from: 10, to: 12 },
      findings: [],
    });
    const text = formatVerifyReport(report, 'database');
    expect(text).toContain('events #1 to #3: pinned by a checkpoint held outside the database');
    expect(text).toContain('events #4 to #9: signed, but only by checkpoints in the database');
    expect(text).toContain('events #10 to #12: UNWITNESSED');
  });
});
