import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  assignReviewers,
  drawSample,
  populationDigest,
  sampleRank,
} from '../../gateway/review/review-sampling.js';

const population = Array.from({ length: 200 }, (_, index) => index + 1);

describe('review sampling', () => {
  it('ranks by SHA-256 of "seed:sequence", as docs/audit.md tells anyone to redraw it', () => {
    expect(sampleRank('2026-Q2', 42)).toBe(createHash('sha256').update('2026-Q2:42').digest('hex'));
    const expected = [...population]
      .sort((a, b) => sampleRank('2026-Q2', a).localeCompare(sampleRank('2026-Q2', b)))
      .slice(0, 10);
    expect(drawSample('2026-Q2', population, 10)).toEqual(expected);
  });

  it('draws the same sample from the same seed, whatever order the population comes in', () => {
    const shuffled = [...population].reverse();
    expect(drawSample('seed-1', shuffled, 20)).toEqual(drawSample('seed-1', population, 20));
    expect(drawSample('seed-2', population, 20)).not.toEqual(drawSample('seed-1', population, 20));
  });

  it('pins the algorithm: a known seed gives a known sample', () => {
    expect(drawSample('silobridge', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 3)).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        .map((sequence) => ({
          sequence,
          rank: createHash('sha256').update(`silobridge:${sequence}`).digest('hex'),
        }))
        .sort((a, b) => a.rank.localeCompare(b.rank))
        .slice(0, 3)
        .map((entry) => entry.sequence),
    );
  });

  it('takes the whole population when it is smaller than the size asked for', () => {
    expect(drawSample('s', [5, 3, 9], 10).sort()).toEqual([3, 5, 9]);
  });

  it('assigns reviewers reproducibly and evenly', () => {
    const reviewers = ['auditor-li', 'auditor-wang', 'auditor-zhao'];
    const assigned = assignReviewers('seed-1', 9, reviewers);
    expect(assigned).toEqual(assignReviewers('seed-1', 9, [...reviewers].reverse()));
    for (const reviewer of reviewers) expect(assigned.filter((name) => name === reviewer)).toHaveLength(3);
    expect(assignReviewers('seed-1', 2, [])).toEqual([undefined, undefined]);
  });

  it('digests the population in ascending order', () => {
    expect(populationDigest([3, 1, 2])).toBe(createHash('sha256').update('1\n2\n3').digest('hex'));
  });
});
