/**
 * Review sampling ("double random, one public") as data officers use it: draw a reproducible sample
 * of audited lookups, record findings, publish a summary. The routes use this interface; only the
 * stores behind it touch the tables.
 */
import { bindDatabase, type WithoutDatabase } from '../storage/bind-database.js';
import type { Database } from '../storage/database.js';
import { checkFinding, drawReviewSample, findSample, insertFinding, listSamples } from './review-store.js';
import { reviewSummary } from './review-summary.js';

export { FINDINGS, type FindingInput, type SampleRequest } from './review-store.js';

export interface ReviewService {
  drawSample: WithoutDatabase<typeof drawReviewSample>;
  listSamples: WithoutDatabase<typeof listSamples>;
  findSample: WithoutDatabase<typeof findSample>;
  /** Rejects a finding the sample does not allow (unknown event, another reviewer's event). */
  checkFinding: WithoutDatabase<typeof checkFinding>;
  addFinding: WithoutDatabase<typeof insertFinding>;
  summary: WithoutDatabase<typeof reviewSummary>;
}

export function createReviewService(database: Database): ReviewService {
  return {
    drawSample: bindDatabase(database, drawReviewSample),
    listSamples: bindDatabase(database, listSamples),
    findSample: bindDatabase(database, findSample),
    checkFinding: bindDatabase(database, checkFinding),
    addFinding: bindDatabase(database, insertFinding),
    summary: bindDatabase(database, reviewSummary),
  };
}
