/**
 * The data officers' API (role `audit`): search the log, read one event, verify the chain and its
 * checkpoints, export it, list checkpoints, and answer a data subject's "who looked at my records".
 * The subject report takes the identifiers in a POST body, never in the URL: URLs end up in access
 * logs, proxies and browser history, and the point of the log is that ID numbers do not.
 */
import { once } from 'node:events';
import { type Response, Router } from 'express';
import { callerOf, requireRole } from '../access/caller.js';
import { GatewayError, NotFoundError } from '../foundation/errors.js';
import { bodyObject, InputReader } from '../http/input-reader.js';
import type { AuditRecorder } from './audit-events.js';
import { EVENT_OUTCOMES, parseSequence, readFilters, readPage } from './audit-query.js';
import type { AuditReader } from './audit-service.js';
import { readSubject } from './audit-subjects.js';
import type { SubjectHasher } from './subject-hash.js';

export interface AuditRouterOptions {
  auditReader: AuditReader;
  /** Where officers' own actions (subject reports) are recorded. */
  audit: AuditRecorder;
  hashSubject: SubjectHasher;
}

async function writeLine(res: Response, line: string): Promise<void> {
  if (res.destroyed) throw new Error('the client went away during the export');
  if (res.write(line)) return;
  // A client that stops reading must not hold the export's transaction open forever.
  await Promise.race([once(res, 'drain'), once(res, 'close')]);
  if (res.destroyed) throw new Error('the client went away during the export');
}

export function createAuditRouter(options: AuditRouterOptions): Router {
  const { auditReader, audit, hashSubject } = options;
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
    res.json(await auditReader.searchEvents(filters, page));
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
      await auditReader.searchEvents(
        { ...filters, subjectHashes: subject ? hashSubject(subject) : undefined },
        page,
      ),
    );
  });

  router.get('/v1/audit/events/:sequence', async (req, res) => {
    const sequence = parseSequence(req.params.sequence);
    const event = await auditReader.findEvent(sequence);
    if (!event) throw new NotFoundError(`There is no audit event ${sequence}.`, 'audit-event-not-found');
    res.json(event);
  });

  router.get('/v1/audit/verify', async (_req, res) => {
    res.json(await auditReader.verify());
  });

  router.get('/v1/audit/checkpoints', async (req, res) => {
    const reader = new InputReader(req.query as Record<string, unknown>);
    const after = reader.integer('after', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    reader.rejectUnknown();
    reader.done('The request');
    res.json({ checkpoints: await auditReader.checkpointsAfter(after) });
  });

  router.get('/v1/audit/export', async (_req, res) => {
    res.status(200).type('application/x-ndjson');
    res.set(
      'Content-Disposition',
      `attachment; filename="silobridge-audit-${new Date().toISOString().slice(0, 10)}.ndjson"`,
    );
    await auditReader.exportLog((line) => writeLine(res, line));
    res.end();
  });

  router.post('/v1/audit/subjects/report', async (req, res) => {
    const reader = new InputReader(bodyObject(req.body));
    const subject = readSubject(reader);
    const from = reader.dateTime('from');
    const to = reader.dateTime('to');
    const outcome = reader.list('outcome', EVENT_OUTCOMES);
    const page = readPage(reader);
    reader.rejectUnknown();
    reader.done('The subject report request');
    if (!subject) return;
    // Recorded before anything is read: a report nobody can see in the log is never produced.
    await recordSubjectReport(res, subject);
    const report = await auditReader.subjectReport(hashSubject(subject), { from, to, outcome }, page);
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

  return router;
}
