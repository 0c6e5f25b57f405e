/**
 * The data officers' API (role `audit`): search the log, read one event, verify the chain and its
 * checkpoints, export it, list checkpoints, and answer a data subject's "who looked at my records".
 * The subject report takes the identifiers in a POST body, never in the URL: URLs end up in access
 * logs, proxies and browser history, and the point of the log is that ID numbers do not.
 */
import { once } from 'node:events';
import { type Response, Router } from 'express';
import { GatewayError, NotFoundError } from '../errors.js';
import { callerOf, requireRole } from '../identity/caller.js';
import type { JsonWebKeySet } from '../signing/jws.js';
import type { Database } from '../storage/database.js';
import { readCheckpoints } from './audit-checkpoints.js';
import type { AuditRecorder } from './audit-events.js';
import { exportAuditLog } from './audit-export.js';
import { bodyObject, InputReader } from './audit-input.js';
import {
  findEvent,
  LOOKUP_OUTCOMES,
  parseSequence,
  readFilters,
  readPage,
  searchEvents,
} from './audit-query.js';
import { readSubject, subjectReport } from './audit-subjects.js';
import { verifyAuditLog } from './audit-verify.js';
import { createReviewRouter } from './review-routes.js';
import type { SubjectHasher } from './subject-hash.js';

export interface AuditRouterOptions {
  database: Database;
  /** Where officers' own actions (subject reports, review findings) are recorded. */
  audit: AuditRecorder;
  hashSubject: SubjectHasher;
  /** Keys to check checkpoints with; default: the keys stored in the database. */
  jwks?: () => Promise<JsonWebKeySet>;
}

async function writeLine(res: Response, line: string): Promise<void> {
  if (res.destroyed) throw new Error('the client went away during the export');
  if (res.write(line)) return;
  // A client that stops reading must not hold the export's transaction open forever.
  await Promise.race([once(res, 'drain'), once(res, 'close')]);
  if (res.destroyed) throw new Error('the client went away during the export');
}

export function createAuditRouter(options: AuditRouterOptions): Router {
  const { database, audit, hashSubject } = options;
  /** Searching by subject is itself an access to personal data: it goes into the log first. */
  const recordSubjectReport = (
    res: Response,
    subject: Record<string, unknown>,
    details?: Record<string, unknown>,
  ) =>
    audit.record({
      kind: 'audit-access',
      at: new Date().toISOString(),
      actor: callerOf(res).systemId,
      action: 'subject-report',
      subject,
      ...(details ? { details } : {}),
    });
  const router = Router();
  router.use('/v1/audit', requireRole('audit'));

  router.get('/v1/audit/events', async (req, res) => {
    const reader = new InputReader(req.query as Record<string, unknown>);
    const filters = readFilters(reader);
    const page = readPage(reader);
    reader.rejectUnknown();
    reader.done('The search');
    res.json(await searchEvents(database, filters, page));
  });

  // The same search with a subject: identifiers belong in a body, not in a URL.
  router.post('/v1/audit/events/search', async (req, res) => {
    const reader = new InputReader(bodyObject(req.body));
    const filters = readFilters(reader);
    const page = readPage(reader);
    const subject = reader.raw('subject') === undefined ? undefined : readSubject(reader);
    reader.rejectUnknown();
    reader.done('The search');
    if (subject) await recordSubjectReport(res, subject, { via: 'events-search' });
    res.json(
      await searchEvents(
        database,
        { ...filters, subjectHashes: subject ? hashSubject(subject) : undefined },
        page,
      ),
    );
  });

  router.get('/v1/audit/events/:sequence', async (req, res) => {
    const sequence = parseSequence(req.params.sequence);
    const event = await findEvent(database, sequence);
    if (!event) throw new NotFoundError(`There is no audit event ${sequence}.`, 'audit-event-not-found');
    res.json(event);
  });

  router.get('/v1/audit/verify', async (_req, res) => {
    res.json(await verifyAuditLog(database, { jwks: await options.jwks?.() }));
  });

  router.get('/v1/audit/checkpoints', async (req, res) => {
    const reader = new InputReader(req.query as Record<string, unknown>);
    const after = reader.integer('after', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    reader.rejectUnknown();
    reader.done('The request');
    const checkpoints = (await readCheckpoints(database)).filter((checkpoint) => checkpoint.sequence > after);
    res.json({ checkpoints });
  });

  router.get('/v1/audit/export', async (_req, res) => {
    res.status(200).type('application/x-ndjson');
    res.set(
      'Content-Disposition',
      `attachment; filename="silobridge-audit-${new Date().toISOString().slice(0, 10)}.ndjson"`,
    );
    await exportAuditLog(database, (line) => writeLine(res, line));
    res.end();
  });

  router.post('/v1/audit/subjects/report', async (req, res) => {
    const reader = new InputReader(bodyObject(req.body));
    const subject = readSubject(reader);
    const from = reader.dateTime('from');
    const to = reader.dateTime('to');
    const outcome = reader.list('outcome', LOOKUP_OUTCOMES);
    const page = readPage(reader);
    reader.rejectUnknown();
    reader.done('The subject report request');
    if (!subject) return;
    // Recorded before anything is read: a report nobody can see in the log is never produced.
    await recordSubjectReport(res, subject);
    const report = await subjectReport(database, hashSubject(subject), { from, to, outcome }, page);
    res.json({ identifierTypes: Object.keys(subject).sort(), ...report });
  });

  router.get('/v1/audit/subjects/report', () => {
    const error = new GatewayError(
      'method-not-allowed',
      405,
      'Method not allowed',
      'POST the subject identifiers as JSON ({"subject": {"residentIdNumber": "..."}}): identifiers must not travel in URLs.',
    );
    error.headers.Allow = 'POST';
    throw error;
  });

  router.use(createReviewRouter({ database, audit }));
  return router;
}
