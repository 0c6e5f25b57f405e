/**
 * Review sampling ("双随机": random events to review, random reviewers to review them), reproducible by
 * anyone from the published seed and population (docs/audit.md "Redrawing a sample"):
 * - every event in the population gets the rank hex(SHA-256(UTF-8(seed + ":" + sequence)));
 * - the sample is the `size` events with the smallest ranks (ties, practically impossible, by sequence);
 * - reviewers are ordered by hex(SHA-256(UTF-8(seed + ":reviewer:" + name))) and assigned round-robin
 *   to the sample in its order, so each reviews an equal share;
 * - the population is pinned by its count and hex(SHA-256(UTF-8(sequences, ascending, joined by "\n"))).
 * The database computes the same (review-store.ts); these functions are the reference and the tests' oracle.
 */
import { createHash } from 'node:crypto';

export const SAMPLING_ALGORITHM = 'silobridge-sample-v1';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

export function sampleRank(seed: string, sequence: number): string {
  return sha256(`${seed}:${sequence}`);
}

export function drawSample(seed: string, population: readonly number[], size: number): number[] {
  return population
    .map((sequence) => ({ sequence, rank: sampleRank(seed, sequence) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.sequence - b.sequence))
    .slice(0, size)
    .map((entry) => entry.sequence);
}

export function assignReviewers(
  seed: string,
  sampleSize: number,
  reviewers: readonly string[],
): Array<string | undefined> {
  if (reviewers.length === 0) return Array.from({ length: sampleSize }, () => undefined);
  const ordered = [...reviewers].sort((a, b) => {
    const ra = sha256(`${seed}:reviewer:${a}`);
    const rb = sha256(`${seed}:reviewer:${b}`);
    return ra < rb ? -1 : ra > rb ? 1 : 0;
  });
  return Array.from({ length: sampleSize }, (_, index) => ordered[index % ordered.length]);
}

export function populationDigest(sequences: readonly number[]): string {
  return sha256([...sequences].sort((a, b) => a - b).join('\n'));
}
