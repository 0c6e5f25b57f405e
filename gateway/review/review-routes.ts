/**
 * Review sampling for data officers (role `audit`):
 *   POST /v1/audit/reviews/samples                  draw a sample {from, to, size, seed?, outcomes?, requester?, provider?, reviewers?}
 *   GET  /v1/audit/reviews/samples                  the samples drawn
 *   GET  /v1/audit/reviews/samples/{id}             one sample, its events and their latest findings
 *   POST /v1/audit/reviews/samples/{id}/findings    record a finding {sequence, finding, reviewer, note?}
 *   GET  /v1/audit/reviews/samples/{id}/summary     the publishable summary
 *   POST /v1/audit/reviews/samples/{id}/publication publish it (frozen, without reviewers' names and notes)
 * and, for anyone (createPublishedReviewRouter):
 *   GET  /v1/public/reviews                         the published summaries, newest first
 *   GET  /v1/public/reviews/{id}                    one sample's latest published summary
 * Drawing a sample, recording a finding and publishing are themselves audit events.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Router } from 'express';
import { callerOf, requireRole } from '../access/caller.js';
import { LOOKUP_OUTCOMES } from '../access/lookup-terms.js';
import type { AuditRecorder } from '../audit/audit-events.js';
import { BadRequestError } from '../foundation/errors.js';
import { bodyObject, InputReader, REQUESTER } from '../http/input-reader.js';
import { DEPARTMENT_CODE_PATTERN } from '../protocol/codes.js';
import { FINDINGS, type FindingInput, type ReviewService, type SampleRequest } from './review-service.js';

export const MAX_SAMPLE_SIZE = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function sampleId(text: string | undefined): string {
  if (!text || !UUID.test(text)) {
    throw new BadRequestError('A review sample is named by the id it was given when drawn (a UUID).', [
      { pointer: '/id', reason: 'must be a sample id' },
    ]);
  }
  return text;
}

function readSampleRequest(body: unknown): SampleRequest {
  const reader = new InputReader(bodyObject(body));
  const from = reader.dateTime('from', true);
  const to = reader.dateTime('to', true);
  const size = reader.integer('size', 1, MAX_SAMPLE_SIZE, true);
  const seed = reader.string('seed', /^[\x21-\x7e]{1,128}$/, '1 to 128 printable ASCII characters');
  const outcomes = reader.list('outcomes', LOOKUP_OUTCOMES) ?? ['granted'];
  const requester = reader.string('requester', REQUESTER, 'a department code or <department>/<system>');
  const provider = reader.string('provider', DEPARTMENT_CODE_PATTERN, 'a department code');
  const reviewers = reader.raw('reviewers') ?? [];
  if (
    !Array.isArray(reviewers) ||
    reviewers.length > 50 ||
    reviewers.some((name) => typeof name !== 'string' || name.length < 1 || name.length > 128) ||
    new Set(reviewers).size !== reviewers.length
  ) {
    reader.fail('reviewers', 'must be a list of up to 50 distinct names (1 to 128 characters each)');
  }
  if (from && to && from >= to) reader.fail('to', 'must be later than from');
  if (to && Date.parse(to) > Date.now()) {
    // Events still to come would be missing from the population: the sample could not be redrawn.
    reader.fail('to', 'must not be in the future: a period is sampled once it is over');
  }
  reader.rejectUnknown();
  reader.done('The sample request');
  return {
    from: from as string,
    to: to as string,
    size: size as number,
    // Anyone can redraw with the seed; an officer may publish one in advance so nobody can pick it afterwards.
    seed: seed ?? randomBytes(16).toString('hex'),
    outcomes,
    requester,
    provider,
    reviewers: reviewers as string[],
  };
}

function readFinding(body: unknown): FindingInput {
  const reader = new InputReader(bodyObject(body));
  const sequence = reader.integer('sequence', 1, Number.MAX_SAFE_INTEGER, true);
  const finding = reader.string(
    'finding',
    new RegExp(`^(${FINDINGS.join('|')})$`),
    `one of ${FINDINGS.join(', ')}`,
    true,
  );
  const reviewer = reader.text('reviewer', 128, true);
  const note = reader.text('note', 4000);
  reader.rejectUnknown();
  reader.done('The finding');
  return {
    sequence: sequence as number,
    finding: finding as FindingInput['finding'],
    reviewer: reviewer as string,
    note,
  };
}

export function createReviewRouter(options: { reviews: ReviewService; audit: AuditRecorder }): Router {
  const { reviews, audit } = options;
  const router = Router();
  router.use('/v1/audit/reviews', requireRole('audit'));

  router.post('/v1/audit/reviews/samples', async (req, res) => {
    const request = readSampleRequest(req.body);
    const actor = callerOf(res).systemId;
    const id = randomUUID();
    await audit.record({
      kind: 'audit-access',
      at: new Date().toISOString(),
      actor,
      action: 'review-sample-drawn',
      target: id,
      details: {
        from: request.from,
        to: request.to,
        size: request.size,
        seed: request.seed,
        outcomes: request.outcomes,
      },
    });
    const sample = await reviews.drawSample(id, actor, request);
    res.status(201).location(`/v1/audit/reviews/samples/${id}`).json(sample);
  });

  router.get('/v1/audit/reviews/samples', async (_req, res) => {
    res.json({ samples: await reviews.listSamples() });
  });

  router.get('/v1/audit/reviews/samples/:id', async (req, res) => {
    res.json(await reviews.findSample(sampleId(req.params.id)));
  });

  router.post('/v1/audit/reviews/samples/:id/findings', async (req, res) => {
    const id = sampleId(req.params.id);
    const input = readFinding(req.body);
    await reviews.checkFinding(id, input);
    const actor = callerOf(res).systemId;
    await audit.record({
      kind: 'audit-access',
      at: new Date().toISOString(),
      actor,
      action: 'review-finding-recorded',
      target: `${id}#${input.sequence}`,
      details: { finding: input.finding, reviewer: input.reviewer },
    });
    res.status(201).json(await reviews.addFinding(id, input, actor));
  });

  router.get('/v1/audit/reviews/samples/:id/summary', async (req, res) => {
    res.json(await reviews.summary(sampleId(req.params.id)));
  });

  router.post('/v1/audit/reviews/samples/:id/publication', async (req, res) => {
    const id = sampleId(req.params.id);
    const reader = new InputReader(bodyObject(req.body ?? {}));
    reader.rejectUnknown();
    reader.done('The publication request');
    await reviews.findSample(id); // 404 before anything is recorded
    const actor = callerOf(res).systemId;
    await audit.record({
      kind: 'audit-access',
      at: new Date().toISOString(),
      actor,
      action: 'review-summary-published',
      target: id,
    });
    const publication = await reviews.publish(id, actor);
    res
      .status(201)
      .location(publicationPath(id))
      .json({
        id,
        publishedAt: publication.publishedAt,
        publishedBy: publication.publishedBy,
        url: publicationPath(id),
      });
  });

  return router;
}

const publicationPath = (id: string) => `/v1/public/reviews/${id}`;

/** Published review summaries, for anyone: no authentication, nothing but what was published. */
export function createPublishedReviewRouter(options: { reviews: ReviewService }): Router {
  const { reviews } = options;
  const router = Router();
  router.get('/v1/public/reviews', async (_req, res) => {
    const published = await reviews.listPublished();
    res.json({
      reviews: published.map(({ sampleId, publishedAt, summary }) => {
        const { sample, reviewed, pending, findings, complete } = summary as Record<string, unknown>;
        const { population } = sample as { population: { from: string; to: string } };
        return {
          id: sampleId,
          url: publicationPath(sampleId),
          publishedAt,
          period: { from: population.from, to: population.to },
          reviewed,
          pending,
          complete,
          findings,
        };
      }),
    });
  });
  router.get('/v1/public/reviews/:id', async (req, res) => {
    const { sampleId: id, publishedAt, summary } = await reviews.findPublished(sampleId(req.params.id));
    res.json({ id, publishedAt, ...summary });
  });
  return router;
}
