import { describe, expect, it } from 'vitest';
import {
  type ChainRow,
  chainHash,
  GENESIS_HASH,
  jsonExact,
  linkEvents,
  type PreparedEvent,
  prepareEvent,
} from '../../gateway/audit/audit-chain.js';
import type { CheckpointPayload } from '../../gateway/audit/audit-checkpoints.js';
import { ChainVerifier } from '../../gateway/audit/chain-verifier.js';
import { createSubjectHasher } from '../../gateway/audit/subject-hash.js';

const hashSubject = createSubjectHasher('a'.repeat(32));

function chainOf(count: number): ChainRow[] {
  const prepared: PreparedEvent[] = Array.from({ length: count }, (_, index) =>
    prepareEvent(
      {
        kind: 'lookup',
        lookupId: `lookup-${index + 1}`,
        at: new Date(Date.UTC(2026, 4, 1, 8, 0, index)).toISOString(),
        requester: { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' },
        purpose: { matter: 'CA-0201', caseRef: `2026-${index}`, officer: 'officer-7' },
        certificateType: 'resident-id-card',
        subject: { residentIdNumber: '11010519491231002X' },
        provider: 'public-security',
        outcome: 'granted',
        status: 200,
        latencyMs: 12.5,
      },
      hashSubject,
    ),
  );
  return linkEvents(0, GENESIS_HASH, prepared);
}

function verify(rows: ChainRow[], checkpoints: CheckpointPayload[] = []) {
  const verifier = new ChainVerifier(checkpoints);
  for (const row of rows) verifier.add(row);
  return verifier.finish();
}

const checkpointOf = (row: ChainRow): CheckpointPayload => ({
  log: 'silobridge-audit',
  sequence: row.sequence,
  hash: row.hash,
  at: '2026-05-01T09:00:00.000Z',
});

/** What an attacker who can write the database but not sign does: recompute every hash from `from` on. */
function rehash(rows: ChainRow[]): ChainRow[] {
  let prev = GENESIS_HASH;
  return rows.map((row, index) => {
    const event = { ...row.event, sequence: index + 1 };
    const hash = chainHash(prev, event);
    const linked = { sequence: index + 1, prevHash: prev, hash, event };
    prev = hash;
    return linked;
  });
}

describe('the audit hash chain', () => {
  it('links each event to the previous hash, starting from the genesis hash', () => {
    const rows = chainOf(3);
    expect(rows[0]?.prevHash).toBe(GENESIS_HASH);
    expect(rows[1]?.prevHash).toBe(rows[0]?.hash);
    expect(rows[2]?.hash).toBe(chainHash(rows[1]?.hash ?? '', rows[2]?.event as ChainRow['event']));
    expect(rows.map((row) => row.event.sequence)).toEqual([1, 2, 3]);
  });

  it('stores subject identifiers only as keyed hashes', () => {
    const [row] = chainOf(1);
    const text = JSON.stringify(row);
    expect(text).not.toContain('11010519491231002X');
    expect(row?.event.subject).toBeUndefined();
    expect(row?.event.subjectHashes).toEqual(hashSubject({ residentIdNumber: '11010519491231002X' }));
  });

  it('makes events JSON-exact: what PostgreSQL jsonb keeps is what was hashed', () => {
    expect(
      jsonExact({ a: 'nul\u0000byte', b: '\uD800lone', c: Number.NaN, d: undefined, e: [undefined, 1] }),
    ).toEqual({
      a: 'nul\uFFFDbyte',
      b: '\uFFFDlone',
      c: null,
      e: [null, 1],
    });
    expect(() =>
      prepareEvent(
        { kind: 'policy-change', at: 'yesterday', actor: 'system', action: 'reload', target: 'policies' },
        hashSubject,
      ),
    ).toThrow(/not a date/);
  });

  it('verifies an intact chain and its checkpoints', () => {
    const rows = chainOf(10);
    const report = verify(rows, [checkpointOf(rows[4] as ChainRow), checkpointOf(rows[9] as ChainRow)]);
    expect(report).toMatchObject({
      ok: true,
      events: 10,
      head: { sequence: 10 },
      checkpoints: { total: 2, verified: 2 },
    });
    expect(report.firstProblem).toBeNull();
  });

  it('names an altered event', () => {
    const rows = chainOf(10);
    (rows[6] as ChainRow).event = { ...(rows[6] as ChainRow).event, outcome: 'denied' };
    const report = verify(rows);
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatchObject({ kind: 'altered', sequence: 7 });
    expect(report.problems).toHaveLength(1);
  });

  it('names an event altered with its own hash recomputed, by the next event still linking to the original', () => {
    const rows = chainOf(10);
    const row = rows[6] as ChainRow;
    row.event = { ...row.event, outcome: 'denied' };
    row.hash = chainHash(row.prevHash, row.event);
    expect(verify(rows).firstProblem).toMatchObject({ kind: 'altered', sequence: 7 });
  });

  it('names a removed event', () => {
    const rows = chainOf(10).filter((row) => row.sequence !== 4);
    const report = verify(rows);
    expect(report.firstProblem).toMatchObject({ kind: 'removed', sequence: 4, lastSequence: 4 });
    expect(report.problems).toHaveLength(1);
  });

  it('names reordered events', () => {
    const rows = chainOf(10);
    // Swap the contents at positions 5 and 6 (what renumbering the rows in the database amounts to).
    const fifth = rows[4] as ChainRow;
    const sixth = rows[5] as ChainRow;
    rows[4] = { ...sixth, sequence: 5 };
    rows[5] = { ...fifth, sequence: 6 };
    const report = verify(rows);
    expect(report.firstProblem).toMatchObject({ kind: 'reordered', sequence: 5 });
    expect(report.problems.map((problem) => [problem.kind, problem.sequence])).toEqual([
      ['reordered', 5],
      ['reordered', 6],
    ]);
  });

  it('catches a rewritten chain (every hash recomputed) with a signed checkpoint', () => {
    const original = chainOf(10);
    const checkpoints = [checkpointOf(original[2] as ChainRow), checkpointOf(original[7] as ChainRow)];
    const tampered = original.map((row) => ({ ...row, event: { ...row.event } }));
    (tampered[5] as ChainRow).event.outcome = 'denied';
    const rewritten = rehash(tampered);
    expect(verify(rewritten).ok).toBe(true); // without a checkpoint nothing can tell
    const report = verify(rewritten, checkpoints);
    expect(report.firstProblem).toMatchObject({ kind: 'rewritten', sequence: 4, lastSequence: 8 });
    expect(report.checkpoints).toMatchObject({ total: 2, verified: 1 });
  });

  it('catches events removed from the end, behind a checkpoint', () => {
    const rows = chainOf(10);
    const report = verify(rows.slice(0, 7), [checkpointOf(rows[9] as ChainRow)]);
    expect(report.firstProblem).toMatchObject({ kind: 'removed', sequence: 8, lastSequence: 10 });
  });

  it('reports checkpoints whose signature did not verify', () => {
    const verifier = new ChainVerifier([], [{ sequence: 3, reason: 'no published key has kid x' }]);
    for (const row of chainOf(3)) verifier.add(row);
    const report = verifier.finish();
    expect(report.firstProblem).toMatchObject({ kind: 'checkpoint-invalid', sequence: 3 });
  });
});
