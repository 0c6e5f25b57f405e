/**
 * Review samples, their items and findings in the database. A sample is drawn in one REPEATABLE READ
 * transaction: the chain head pins the population (later events never join it), the database ranks it
 * with the published algorithm (review-sampling.ts) and the sample is stored with what is needed to
 * redraw it. Findings are appended; the latest per event counts.
 */

import type { StoredAuditEvent } from '../audit/audit-chain.js';
import { type AuditEventFilters, whereClause } from '../audit/audit-query.js';
import { GatewayError, NotFoundError } from '../foundation/errors.js';
import type { Database, Queryable } from '../storage/database.js';
import { assignReviewers, SAMPLING_ALGORITHM } from './review-sampling.js';

export const FINDINGS = ['compliant', 'non-compliant', 'inconclusive'] as const;
export type Finding = (typeof FINDINGS)[number];

export interface SampleRequest {
  from: string;
  to: string;
  size: number;
  seed: string;
  /** Lookup outcomes in the population (default: granted, the accesses that released data). */
  outcomes: string[];
  requester?: string;
  provider?: string;
  reviewers: string[];
}

export interface SamplePopulation {
  kind: 'lookup';
  outcomes: string[];
  requester?: string;
  provider?: string;
  from: string;
  to: string;
  headSequence: number;
  count: number;
  digest: string;
}

export interface ReviewSample {
  id: string;
  algorithm: string;
  createdAt: string;
  createdBy: string;
  seed: string;
  size: number;
  population: SamplePopulation;
  reviewers: string[];
  items: Array<{ position: number; sequence: number; reviewer: string | null }>;
}

function populationFilters(
  population: Pick<SamplePopulation, 'outcomes' | 'requester' | 'provider' | 'from' | 'to'>,
) {
  const filters: AuditEventFilters = {
    kind: ['lookup'],
    outcome: population.outcomes,
    requester: population.requester,
    provider: population.provider,
    from: population.from,
    to: population.to,
  };
  return filters;
}

export async function drawReviewSample(
  database: Database,
  id: string,
  createdBy: string,
  request: SampleRequest,
): Promise<ReviewSample> {
  return database.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const head = await tx.query<{ head: string | number | null }>(
      'SELECT max(sequence) AS head FROM audit_events',
    );
    const headSequence = Number(head.rows[0]?.head ?? 0);
    const params: unknown[] = [headSequence];
    const where = `${whereClause(populationFilters(request), params)} AND sequence <= $1`;
    const stats = await tx.query<{ count: string | number; digest: string }>(
      `SELECT count(*) AS count,
              encode(sha256(convert_to(coalesce(string_agg(sequence::text, E'\\n' ORDER BY sequence), ''), 'UTF8')), 'hex') AS digest
         FROM audit_events WHERE ${where}`,
      params,
    );
    const seedParam = params.length + 1;
    const sampled = await tx.query<{ sequence: string | number }>(
      `SELECT sequence FROM audit_events WHERE ${where}
        ORDER BY sha256(convert_to($${seedParam} || ':' || sequence::text, 'UTF8')), sequence
        LIMIT $${seedParam + 1}`,
      [...params, request.seed, request.size],
    );
    const sequences = sampled.rows.map((row) => Number(row.sequence));
    const reviewers = assignReviewers(request.seed, sequences.length, request.reviewers);
    const items = sequences.map((sequence, index) => ({
      position: index + 1,
      sequence,
      reviewer: reviewers[index] ?? null,
    }));
    const population: SamplePopulation = {
      kind: 'lookup',
      outcomes: request.outcomes,
      ...(request.requester ? { requester: request.requester } : {}),
      ...(request.provider ? { provider: request.provider } : {}),
      from: request.from,
      to: request.to,
      headSequence,
      count: Number(stats.rows[0]?.count ?? 0),
      digest: stats.rows[0]?.digest ?? '',
    };
    const created = await tx.query<{ created_at: Date | string }>(
      `INSERT INTO audit_review_samples
         (id, created_by, from_at, to_at, seed, size, population, head_sequence, population_count, population_digest, reviewers)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11::jsonb) RETURNING created_at`,
      [
        id,
        createdBy,
        request.from,
        request.to,
        request.seed,
        request.size,
        JSON.stringify(population),
        headSequence,
        population.count,
        population.digest,
        JSON.stringify(request.reviewers),
      ],
    );
    await tx.query(
      `INSERT INTO audit_review_items (sample_id, position, sequence, reviewer)
       SELECT $1, (i->>'position')::int, (i->>'sequence')::bigint, i->>'reviewer' FROM jsonb_array_elements($2::jsonb) AS i`,
      [id, JSON.stringify(items)],
    );
    return {
      id,
      algorithm: SAMPLING_ALGORITHM,
      createdAt: new Date(created.rows[0]?.created_at ?? Date.now()).toISOString(),
      createdBy,
      seed: request.seed,
      size: request.size,
      population,
      reviewers: request.reviewers,
      items,
    };
  });
}

interface SampleRow {
  id: string;
  created_at: Date | string;
  created_by: string;
  seed: string;
  size: number;
  population: SamplePopulation;
  reviewers: string[];
}

export interface ReviewItem {
  position: number;
  sequence: number;
  reviewer: string | null;
  event: StoredAuditEvent;
  finding: { finding: Finding; note: string | null; reviewer: string; recordedAt: string } | null;
}

export async function findSample(
  db: Queryable,
  id: string,
): Promise<Omit<ReviewSample, 'items'> & { items: ReviewItem[] }> {
  const samples = await db.query<SampleRow>(
    'SELECT id, created_at, created_by, seed, size, population, reviewers FROM audit_review_samples WHERE id = $1',
    [id],
  );
  const sample = samples.rows[0];
  if (!sample) throw new NotFoundError(`There is no review sample ${id}.`, 'review-sample-not-found');
  const items = await db.query<{
    position: number;
    sequence: string | number;
    reviewer: string | null;
    event: StoredAuditEvent;
    finding: Finding | null;
    note: string | null;
    found_by: string | null;
    recorded_at: Date | string | null;
  }>(
    `SELECT i.position, i.sequence, i.reviewer, e.event, f.finding, f.note, f.reviewer AS found_by, f.recorded_at
       FROM audit_review_items AS i
       JOIN audit_events AS e ON e.sequence = i.sequence
       LEFT JOIN LATERAL (
         SELECT finding, note, reviewer, recorded_at FROM audit_review_findings
          WHERE sample_id = i.sample_id AND sequence = i.sequence ORDER BY id DESC LIMIT 1
       ) AS f ON true
      WHERE i.sample_id = $1 ORDER BY i.position`,
    [id],
  );
  return {
    id: sample.id,
    algorithm: SAMPLING_ALGORITHM,
    createdAt: new Date(sample.created_at).toISOString(),
    createdBy: sample.created_by,
    seed: sample.seed,
    size: sample.size,
    population: sample.population,
    reviewers: sample.reviewers,
    items: items.rows.map((row) => ({
      position: row.position,
      sequence: Number(row.sequence),
      reviewer: row.reviewer,
      event: row.event,
      finding:
        row.finding && row.found_by
          ? {
              finding: row.finding,
              note: row.note,
              reviewer: row.found_by,
              recordedAt: new Date(row.recorded_at ?? 0).toISOString(),
            }
          : null,
    })),
  };
}

export async function listSamples(
  db: Queryable,
): Promise<
  Array<{ id: string; createdAt: string; createdBy: string; from: string; to: string; size: number }>
> {
  const { rows } = await db.query<{
    id: string;
    created_at: Date;
    created_by: string;
    from_at: Date;
    to_at: Date;
    size: number;
  }>(
    'SELECT id, created_at, created_by, from_at, to_at, size FROM audit_review_samples ORDER BY created_at DESC LIMIT 200',
  );
  return rows.map((row) => ({
    id: row.id,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
    from: new Date(row.from_at).toISOString(),
    to: new Date(row.to_at).toISOString(),
    size: row.size,
  }));
}

export interface FindingInput {
  sequence: number;
  finding: Finding;
  note?: string;
  reviewer: string;
}

/** Checks that the finding may be recorded (the event is in the sample; the reviewer is the one drawn). */
export async function checkFinding(db: Queryable, sampleId: string, input: FindingInput): Promise<void> {
  const { rows } = await db.query<{ in_sample: boolean; reviewer: string | null }>(
    `SELECT i.sequence IS NOT NULL AS in_sample, i.reviewer
       FROM audit_review_samples AS s
       LEFT JOIN audit_review_items AS i ON i.sample_id = s.id AND i.sequence = $2
      WHERE s.id = $1`,
    [sampleId, input.sequence],
  );
  const row = rows[0];
  if (!row) throw new NotFoundError(`There is no review sample ${sampleId}.`, 'review-sample-not-found');
  if (!row.in_sample) {
    throw new NotFoundError(`Event ${input.sequence} is not in review sample ${sampleId}.`, 'not-in-sample', {
      sequence: input.sequence,
    });
  }
  if (row.reviewer && row.reviewer !== input.reviewer) {
    throw new GatewayError(
      'reviewer-not-assigned',
      409,
      'Conflict',
      `Event ${input.sequence} was drawn for reviewer '${row.reviewer}', not '${input.reviewer}'.`,
      { assignedReviewer: row.reviewer },
    );
  }
}

export async function insertFinding(
  db: Queryable,
  sampleId: string,
  input: FindingInput,
  recordedBy: string,
) {
  const { rows } = await db.query<{ id: string | number; recorded_at: Date | string }>(
    `INSERT INTO audit_review_findings (sample_id, sequence, finding, note, reviewer, recorded_by)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, recorded_at`,
    [sampleId, input.sequence, input.finding, input.note ?? null, input.reviewer, recordedBy],
  );
  return {
    id: Number(rows[0]?.id),
    sampleId,
    ...input,
    recordedBy,
    recordedAt: new Date(rows[0]?.recorded_at ?? Date.now()).toISOString(),
  };
}

export interface ReviewPublication {
  sampleId: string;
  publishedAt: string;
  publishedBy: string;
  summary: Record<string, unknown>;
}

interface PublicationRow {
  sample_id: string;
  published_at: Date | string;
  published_by: string;
  summary: Record<string, unknown>;
}

const toPublication = (row: PublicationRow): ReviewPublication => ({
  sampleId: row.sample_id,
  publishedAt: new Date(row.published_at).toISOString(),
  publishedBy: row.published_by,
  summary: row.summary,
});

export async function insertPublication(
  db: Queryable,
  sampleId: string,
  publishedBy: string,
  summary: Record<string, unknown>,
): Promise<ReviewPublication> {
  const { rows } = await db.query<PublicationRow>(
    `INSERT INTO audit_review_publications (sample_id, published_by, summary) VALUES ($1, $2, $3::jsonb)
     RETURNING sample_id, published_at, published_by, summary`,
    [sampleId, publishedBy, JSON.stringify(summary)],
  );
  return toPublication(rows[0] as PublicationRow);
}

/** The latest publication of each published sample, newest first. */
export async function listPublications(db: Queryable): Promise<ReviewPublication[]> {
  const { rows } = await db.query<PublicationRow>(
    `SELECT * FROM (
       SELECT DISTINCT ON (sample_id) sample_id, published_at, published_by, summary
         FROM audit_review_publications ORDER BY sample_id, id DESC
     ) AS latest ORDER BY published_at DESC LIMIT 500`,
  );
  return rows.map(toPublication);
}

export async function findPublication(db: Queryable, sampleId: string): Promise<ReviewPublication> {
  const { rows } = await db.query<PublicationRow>(
    `SELECT sample_id, published_at, published_by, summary FROM audit_review_publications
      WHERE sample_id = $1 ORDER BY id DESC LIMIT 1`,
    [sampleId],
  );
  const row = rows[0];
  if (!row) {
    throw new NotFoundError(`No summary of review sample ${sampleId} was published.`, 'review-not-published');
  }
  return toPublication(row);
}
