/**
 * The publishable summary of a review sample ("一公开"): how the sample was drawn (enough to redraw
 * it), how many events were reviewed, the findings, per requesting department, and the non-compliant
 * accesses. It names departments, systems and matters; never subjects, officers or case references.
 */
import type { Queryable } from '../storage/database.js';
import { FINDINGS, type Finding, findSample } from './review-store.js';

type Counts = Record<Finding | 'pending', number>;

const emptyCounts = (): Counts => ({ compliant: 0, 'non-compliant': 0, inconclusive: 0, pending: 0 });

export async function reviewSummary(db: Queryable, sampleId: string) {
  const sample = await findSample(db, sampleId);
  const totals = emptyCounts();
  const byRequester = new Map<string, Counts>();
  const nonCompliant: Array<Record<string, unknown>> = [];
  for (const item of sample.items) {
    const requester = (item.event.requester as { department?: string } | undefined)?.department ?? 'unknown';
    const counts = byRequester.get(requester) ?? emptyCounts();
    byRequester.set(requester, counts);
    const finding = item.finding?.finding ?? 'pending';
    totals[finding] += 1;
    counts[finding] += 1;
    if (finding === 'non-compliant') {
      nonCompliant.push({
        sequence: item.sequence,
        at: item.event.at,
        requester: item.event.requester,
        matter: (item.event.purpose as { matter?: string } | undefined)?.matter,
        certificateType: item.event.certificateType,
        provider: item.event.provider,
        note: item.finding?.note ?? null,
        reviewer: item.finding?.reviewer,
      });
    }
  }
  return {
    sample: {
      id: sample.id,
      algorithm: sample.algorithm,
      seed: sample.seed,
      size: sample.size,
      drawn: sample.items.length,
      population: sample.population,
      reviewers: sample.reviewers,
      createdAt: sample.createdAt,
      createdBy: sample.createdBy,
    },
    reviewed: sample.items.length - totals.pending,
    findings: Object.fromEntries(FINDINGS.map((finding) => [finding, totals[finding]])),
    pending: totals.pending,
    byRequester: [...byRequester.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([department, counts]) => ({
        department,
        sampled: Object.values(counts).reduce((a, b) => a + b, 0),
        ...counts,
      })),
    nonCompliant,
  };
}

export type ReviewSummary = Awaited<ReturnType<typeof reviewSummary>>;

/**
 * What the public may read of a review: the summary without the people. Reviewers' names and their
 * notes (free text that may quote a case) stay with the officers; departments, systems, matters,
 * counts and the draw (enough for anyone to redraw the sample) are published.
 */
export function publicReviewSummary(summary: ReviewSummary) {
  const { reviewers: _reviewers, ...sample } = summary.sample;
  return {
    ...summary,
    sample,
    complete: summary.pending === 0,
    nonCompliant: summary.nonCompliant.map(({ note: _note, reviewer: _reviewer, ...access }) => access),
  };
}
