/**
 * What checkpoints held outside the database prove about the log (`silobridge audit verify --against`).
 * A held checkpoint that verifies with the gateway's keys pins the chain up to its sequence: the log
 * must still hold that event, with that hash. So it shows a truncation (the checkpoint lies beyond
 * the log's head, or its event is gone) and a rewrite (the hash differs), even when every checkpoint
 * in the database was deleted with them. Events after the newest agreeing checkpoint are
 * "unwitnessed": no signature covers them yet, so a real event and one an insider added cannot be
 * told apart until the next checkpoint (which then covers whatever the log holds).
 */
import type { JsonWebKeySet } from '../signing/jws.js';
import { checkCheckpointSignature } from './audit-checkpoints.js';
import type { ChainVerifier, HeldCheckpointFinding, VerifyReport, WitnessReport } from './chain-verifier.js';

export type { HeldCheckpointFinding, HeldCheckpointStatus, WitnessReport } from './chain-verifier.js';

/** A checkpoint (compact JWS) someone kept, and where it was read from. */
export interface HeldCheckpoint {
  source: string;
  jws: string;
}

export async function witness(
  held: HeldCheckpoint[],
  verifier: ChainVerifier,
  report: VerifyReport,
  jwks: JsonWebKeySet,
): Promise<WitnessReport> {
  const head = report.head?.sequence ?? 0;
  const sources = new Map<string, { checkpoints: number; latest: number | null }>();
  const checked = new Map<string, Awaited<ReturnType<typeof checkCheckpointSignature>>>();
  const findings: HeldCheckpointFinding[] = [];
  let valid = 0;
  let agreeing = 0;
  let heldUpTo = 0;
  let latest: WitnessReport['held']['latest'] = null;
  for (const { source, jws } of held) {
    const entry = sources.get(source) ?? { checkpoints: 0, latest: null };
    sources.set(source, entry);
    entry.checkpoints += 1;
    if (checked.has(jws)) continue;
    const check = await checkCheckpointSignature(jws, jwks, 0);
    checked.set(jws, check);
    if (!check.ok) {
      findings.push({
        source,
        sequence: 0,
        status: 'invalid',
        message: `${source}: a checkpoint that is not validly signed (${check.reason})`,
      });
      continue;
    }
    valid += 1;
    const { sequence, hash, at } = check.payload;
    entry.latest = Math.max(entry.latest ?? 0, sequence);
    if (!latest || sequence > latest.sequence) latest = { sequence, at };
    const stored = verifier.hashAt(sequence);
    const finding = (status: HeldCheckpointFinding['status'], why: string) =>
      findings.push({
        source,
        sequence,
        status,
        message: `${source}: checkpoint #${sequence} signed at ${at} ${why}`,
      });
    if (sequence > head) {
      finding('beyond-head', `is beyond the log's head #${head}: the log was truncated`);
    } else if (stored === '') {
      finding('event-missing', `names an event the log no longer holds: it was removed`);
    } else if (stored !== hash) {
      finding('differs', `does not match the log's event #${sequence}: the history up to it was rewritten`);
    } else {
      agreeing += 1;
      heldUpTo = Math.max(heldUpTo, sequence);
    }
  }
  const signedUpTo = Math.max(heldUpTo, verifier.agreedUpTo);
  return {
    sources: [...sources].map(([source, entry]) => ({ source, ...entry })),
    held: { total: checked.size, valid, agreeing, latest },
    heldUpTo,
    signedUpTo,
    unwitnessed: head > signedUpTo ? { from: signedUpTo + 1, to: head } : null,
    heldNowhereElse: signedUpTo > heldUpTo ? { from: heldUpTo + 1, to: signedUpTo } : null,
    findings: findings.sort((a, b) => a.sequence - b.sequence),
  };
}
