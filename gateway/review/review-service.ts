/**
 * Review sampling ("double random, one public") as data officers use it: draw a reproducible sample
 * of audited lookups, record findings, publish a summary. The routes use this interface; only the
 * stores behind it touch the tables.
 */
import { bindDatabase, type WithoutDatabase } from '../storage/bind-database.js';
import type { Database } from '../storage/database.js';
import {
  checkFinding,
  drawReviewSample,
  findPublication,
  findSample,
  insertFinding,
  insertPublication,
  listPublications,
  listSamples,
  type ReviewPublication,
} from './review-store.js';
import { publicReviewSummary, reviewSummary } from './review-summary.js';

export {
  FINDINGS,
  type FindingInput,
  type ReviewPublication,
  type SampleRequest,
} from './review-store.js';

export interface ReviewService {
  drawSample: WithoutDatabase<typeof drawReviewSample>;
  listSamples: WithoutDatabase<typeof listSamples>;
  findSample: WithoutDatabase<typeof findSample>;
  /** Rejects a finding the sample does not allow (unknown event, another reviewer's event). */
  checkFinding: WithoutDatabase<typeof checkFinding>;
  addFinding: WithoutDatabase<typeof insertFinding>;
  summary: WithoutDatabase<typeof reviewSummary>;
  /** Freezes the sample's summary as it is now, without reviewers' names and notes, for the public. */
  publish(sampleId: string, publishedBy: string): Promise<ReviewPublication>;
  listPublished: WithoutDatabase<typeof listPublications>;
  findPublished: WithoutDatabase<typeof findPublication>;
}

export function createReviewService(database: Database): ReviewService {
  return {
    drawSample: bindDatabase(database, drawReviewSample),
    listSamples: bindDatabase(database, listSamples),
    findSample: bindDatabase(database, findSample),
    checkFinding: bindDatabase(database, checkFinding),
    addFinding: bindDatabase(database, insertFinding),
    summary: bindDatabase(database, reviewSummary),
    publish: (sampleId, publishedBy) =>
      database.transaction(async (tx) =>
        insertPublication(tx, sampleId, publishedBy, publicReviewSummary(await reviewSummary(tx, sampleId))),
      ),
    listPublished: bindDatabase(database, listPublications),
    findPublished: bindDatabase(database, findPublication),
  };
}
