/**
 * GET /.well-known/audit-checkpoints: every signed checkpoint as NDJSON (checkpoint-publication.ts
 * gives the line), oldest first, to anyone, without authentication: a department, a supervisory
 * authority or a citizen fetches it now and then and keeps what it got. A copy taken before an
 * insider deleted the tail of the log and its checkpoints proves the deletion (docs/audit.md).
 * Paged: `?after=<the last sequence you hold>`; a full page ends with a `Link: rel="next"` header.
 */
import { Router } from 'express';
import { InputReader } from '../http/input-reader.js';
import type { StoredCheckpoint } from './audit-checkpoints.js';
import { checkpointLine } from './checkpoint-publication.js';

export const FEED_PATH = '/.well-known/audit-checkpoints';
export const FEED_DEFAULT_LIMIT = 1000;
export const FEED_MAX_LIMIT = 10_000;

/** Reads up to `limit` checkpoints after `sequence`, oldest first (readCheckpointsAfter on the database). */
export type CheckpointReader = (sequence: number, limit: number) => Promise<StoredCheckpoint[]>;

export function createCheckpointFeedRouter(readAfter: CheckpointReader): Router {
  const router = Router();
  router.get(FEED_PATH, async (req, res) => {
    const reader = new InputReader(req.query as Record<string, unknown>);
    const after = reader.integer('after', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const limit = reader.integer('limit', 1, FEED_MAX_LIMIT) ?? FEED_DEFAULT_LIMIT;
    reader.rejectUnknown();
    reader.done('The request');
    const checkpoints = await readAfter(after, limit);
    const last = checkpoints.at(-1);
    if (last && checkpoints.length === limit) {
      res.set('Link', `<${FEED_PATH}?after=${last.sequence}&limit=${limit}>; rel="next"`);
    }
    // Short: a new checkpoint comes every SILOBRIDGE_AUDIT_CHECKPOINT_INTERVAL_MS at most.
    res
      .status(200)
      .type('application/x-ndjson')
      .set('Cache-Control', 'public, max-age=10')
      .send(checkpoints.map(checkpointLine).join(''));
  });
  return router;
}
