/**
 * Recomputes the chain, row by row in sequence order, and says what is wrong with it, naming events:
 * - altered:   an event's content no longer hashes to its stored hash, or its stored hash was
 *              recomputed but the next event still links to the original;
 * - removed:   a gap in the sequence numbers (or, at the end, a checkpoint beyond the last event);
 * - reordered: an event sits at a position other than the one it was recorded at (the sequence is
 *              inside the hashed event, so moving it cannot be hidden without rewriting hashes);
 * - rewritten: the chain is self-consistent but disagrees with a signed checkpoint, so everything
 *              after the last agreeing checkpoint was rewritten (hashes recomputed).
 * After a problem it carries on from the stored hashes, so one tampered event is reported once.
 */
import { type ChainRow, chainHash, GENESIS_HASH } from './audit-chain.js';
import type { CheckpointPayload } from './audit-checkpoints.js';

/** What checkpoints held outside the database say of the log (audit-witness.ts). */
export type HeldCheckpointStatus = 'agrees' | 'beyond-head' | 'event-missing' | 'differs' | 'invalid';

export interface HeldCheckpointFinding {
  source: string;
  sequence: number;
  status: Exclude<HeldCheckpointStatus, 'agrees'>;
  message: string;
}

export interface WitnessReport {
  sources: Array<{ source: string; checkpoints: number; latest: number | null }>;
  held: { total: number; valid: number; agreeing: number; latest: { sequence: number; at: string } | null };
  /** Events up to here are pinned by a held checkpoint that agrees with the log (0: none). */
  heldUpTo: number;
  /** ...and up to here by a validly signed checkpoint, held or in the database (0: none). */
  signedUpTo: number;
  /** Events after `signedUpTo`: no signed checkpoint covers them (real or added, nobody can tell yet). */
  unwitnessed: { from: number; to: number } | null;
  /**
   * Events covered only by checkpoints in the database: whoever can delete those checkpoints can
   * delete these events unnoticed by the copies given.
   */
  heldNowhereElse: { from: number; to: number } | null;
  /** Held checkpoints that do not agree with the log, each with its source. */
  findings: HeldCheckpointFinding[];
}

export type ChainProblemKind = 'altered' | 'removed' | 'reordered' | 'rewritten' | 'checkpoint-invalid';

export interface ChainProblem {
  kind: ChainProblemKind;
  /** The first event concerned. */
  sequence: number;
  /** The last event concerned, for a range (removed, rewritten). */
  lastSequence?: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  events: number;
  head: { sequence: number; hash: string } | null;
  checkpoints: { total: number; verified: number; latest: { sequence: number; at: string } | null };
  firstProblem: ChainProblem | null;
  problems: ChainProblem[];
  /** More problems were found than `problems` lists. */
  problemsTruncated: boolean;
  /** With checkpoints held outside the database (`verify --against`): what they prove (audit-witness.ts). */
  witness?: WitnessReport;
}

const MAX_PROBLEMS = 100;

export class ChainVerifier {
  private readonly problems: ChainProblem[] = [];
  private truncated = false;
  private count = 0;
  private previous: { sequence: number; hash: string; suspect: boolean } = {
    sequence: 0,
    hash: GENESIS_HASH,
    suspect: false,
  };
  /** Stored hashes at checkpointed sequences, to compare once the chain is read. */
  private readonly storedAt = new Map<number, string>();
  private readonly checkpoints: CheckpointPayload[];
  private invalidCheckpoints = 0;
  /** After finish(): the newest checkpoint that agrees with the chain, and everything before it (0: none). */
  agreedUpTo = 0;

  /** `checkpoints`: checkpoints whose signatures were already checked; `invalid`: those that failed, with why. */
  constructor(checkpoints: CheckpointPayload[], invalid: Array<{ sequence: number; reason: string }> = []) {
    this.checkpoints = [...checkpoints].sort((a, b) => a.sequence - b.sequence);
    for (const checkpoint of this.checkpoints) this.storedAt.set(checkpoint.sequence, '');
    for (const bad of invalid) {
      this.invalidCheckpoints += 1;
      this.report({
        kind: 'checkpoint-invalid',
        sequence: bad.sequence,
        message: `The checkpoint at event ${bad.sequence} is not validly signed: ${bad.reason}.`,
      });
    }
  }

  add(row: ChainRow): void {
    this.count += 1;
    const expected = this.previous.sequence + 1;
    let suspect = false;
    let gap = false;
    if (row.sequence < expected) {
      suspect = true;
      this.report({
        kind: 'reordered',
        sequence: row.sequence,
        message: `Event ${row.sequence} appears after event ${this.previous.sequence}: the log is out of order.`,
      });
    } else if (row.sequence > expected) {
      gap = true;
      const last = row.sequence - 1;
      this.report({
        kind: 'removed',
        sequence: expected,
        lastSequence: last,
        message:
          expected === last
            ? `Event ${expected} was removed (the log jumps from event ${this.previous.sequence} to ${row.sequence}).`
            : `Events ${expected} to ${last} were removed (the log jumps from event ${this.previous.sequence} to ${row.sequence}).`,
      });
    }

    const recomputed = chainHash(row.prevHash, row.event);
    if (!suspect && row.event.sequence !== row.sequence) {
      suspect = true;
      this.report({
        kind: 'reordered',
        sequence: row.sequence,
        message: `Event ${row.sequence} holds the event recorded as number ${String(row.event.sequence)}: events were moved.`,
      });
    } else if (!suspect && recomputed !== row.hash) {
      suspect = true;
      this.report({
        kind: 'altered',
        sequence: row.sequence,
        message: `Event ${row.sequence} was altered: its content no longer matches its hash.`,
      });
    } else if (!suspect && !gap && !this.previous.suspect && row.prevHash !== this.previous.hash) {
      // This event is intact, so what changed is the one before it, whose hash was recomputed.
      const altered = this.previous.sequence;
      this.report(
        altered === 0
          ? {
              kind: 'altered',
              sequence: row.sequence,
              message: `Event ${row.sequence} does not link to the start of the chain.`,
            }
          : {
              kind: 'altered',
              sequence: altered,
              message: `Event ${altered} was altered and its hash recomputed: event ${row.sequence} still links to the original.`,
            },
      );
    }

    if (this.storedAt.has(row.sequence)) this.storedAt.set(row.sequence, row.hash);
    this.previous = { sequence: row.sequence, hash: row.hash, suspect };
  }

  finish(): VerifyReport {
    const head = this.count > 0 ? { sequence: this.previous.sequence, hash: this.previous.hash } : null;
    let verified = 0;
    let agreedUpTo = 0;
    for (const checkpoint of this.checkpoints) {
      const stored = this.storedAt.get(checkpoint.sequence);
      if (checkpoint.sequence > (head?.sequence ?? 0)) {
        this.report({
          kind: 'removed',
          sequence: (head?.sequence ?? 0) + 1,
          lastSequence: checkpoint.sequence,
          message: `A checkpoint signed at ${checkpoint.at} covers event ${checkpoint.sequence}, but the log ends at event ${head?.sequence ?? 0}: the events after it were removed.`,
        });
      } else if (stored === '') {
        // The event itself is missing: reported as removed while reading the chain.
      } else if (stored !== checkpoint.hash) {
        this.report({
          kind: 'rewritten',
          sequence: agreedUpTo + 1,
          lastSequence: checkpoint.sequence,
          message: `The checkpoint signed at ${checkpoint.at} for event ${checkpoint.sequence} does not match the chain: events ${agreedUpTo + 1} to ${checkpoint.sequence} were rewritten (hashes recomputed).`,
        });
      } else {
        verified += 1;
        agreedUpTo = checkpoint.sequence;
      }
    }
    this.agreedUpTo = agreedUpTo;
    const problems = [...this.problems].sort((a, b) => a.sequence - b.sequence);
    const latest = this.checkpoints.at(-1);
    return {
      ok: problems.length === 0,
      events: this.count,
      head,
      checkpoints: {
        total: this.checkpoints.length + this.invalidCheckpoints,
        verified,
        latest: latest ? { sequence: latest.sequence, at: latest.at } : null,
      },
      firstProblem: problems[0] ?? null,
      problems,
      problemsTruncated: this.truncated,
    };
  }

  /** The chain's stored hash at a checkpointed sequence ('' if that event is missing), after the chain was read. */
  hashAt(sequence: number): string | undefined {
    return this.storedAt.get(sequence);
  }

  private report(problem: ChainProblem): void {
    if (this.problems.length >= MAX_PROBLEMS) this.truncated = true;
    else this.problems.push(problem);
  }
}
