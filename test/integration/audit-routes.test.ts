import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { RequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller, Role } from '../../gateway/access/caller.js';
import type { Audit } from '../../gateway/audit/audit.js';
import type { AuditEvent } from '../../gateway/audit/audit-events.js';
import { verifyExport } from '../../gateway/audit/audit-verify.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { createApp } from '../../gateway/http/app.js';
import { drawSample } from '../../gateway/review/review-sampling.js';
import type { Database } from '../../gateway/storage/database.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { type AuditHarness, startAuditHarness } from '../support/audit-harness.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const ID_NUMBER = '11010519491231002X';
const OTHER_ID = '110105194912310037';
const PERIOD = { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z' };

/** Stands in for authentication: `X-Test-Caller: <system>;<role,role>`. */
const testCaller: RequestHandler = (req, res, next) => {
  const header = req.headers['x-test-caller'];
  if (typeof header === 'string') {
    const [systemId = '', roles = ''] = header.split(';');
    const caller: Caller = {
      systemId,
      department: systemId.split('/')[0] ?? '',
      roles: roles.split(',') as Role[],
    };
    res.locals.caller = caller;
  }
  next();
};

function lookup(index: number, overrides: Partial<Extract<AuditEvent, { kind: 'lookup' }>> = {}): AuditEvent {
  return {
    kind: 'lookup',
    lookupId: `lookup-${index}`,
    at: new Date(Date.UTC(2026, 2, 1 + (index % 28), 9, 0, index % 60)).toISOString(),
    requester: {
      department: index % 2 ? 'civil-affairs' : 'market-regulation',
      system: index % 2 ? 'civil-affairs/marriage-registry' : 'market-regulation/licensing',
    },
    purpose: {
      matter: index % 3 ? 'CA-0201' : 'MR-0101',
      caseRef: `case-${index}`,
      officer: `officer-${index % 5}`,
    },
    certificateType: 'resident-id-card',
    subject: { residentIdNumber: index % 4 === 0 ? ID_NUMBER : OTHER_ID },
    provider: 'public-security',
    outcome: index % 5 === 0 ? 'denied' : 'granted',
    status: index % 5 === 0 ? 403 : 200,
    latencyMs: 2,
    ...overrides,
  };
}

describe('the data officers’ audit API', () => {
  let testDb: TestDatabase;
  let database: Database;
  let harness: AuditHarness;
  let audit: Audit;
  let server: Server;
  let base: string;
  let dataDir: string;

  const call = async (method: string, url: string, body?: unknown, caller = 'audit-office/console;audit') => {
    const response = await fetch(base + url, {
      method,
      headers: {
        ...(caller ? { 'x-test-caller': caller } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      headers: response.headers,
      body: type.includes('json') && !type.includes('ndjson') ? JSON.parse(text) : text,
    };
  };

  beforeAll(async () => {
    testDb = await createTestDatabase();
    database = createPostgresDatabase({ connectionString: testDb.url });
    dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-audit-routes-'));
    harness = await startAuditHarness(database, dataDir, { auditCheckpointEvery: 25 });
    audit = harness.audit;
    for (let index = 1; index <= 60; index += 1) await audit.log.record(lookup(index));
    await audit.log.record(
      lookup(61, {
        certificateType: 'marriage-certificate',
        subject: {
          partyA: { residentIdNumber: ' 11010519491231002x' },
          partyB: { residentIdNumber: OTHER_ID },
        },
      }),
    );
    await audit.log.record({
      kind: 'policy-change',
      at: '2026-03-20T00:00:00Z',
      actor: 'system',
      action: 'reloaded',
      target: 'policies',
    });
    const app = createApp({
      logger: createLogger('silent'),
      bodyLimitBytes: 65536,
      middleware: [testCaller],
      routers: harness.routers,
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await harness?.stop();
    await database?.close();
    await testDb?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is only for callers with the audit role', async () => {
    expect((await call('GET', '/v1/audit/events', undefined, '')).status).toBe(401);
    const refused = await call(
      'GET',
      '/v1/audit/events',
      undefined,
      'civil-affairs/marriage-registry;lookup',
    );
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      type: 'https://silobridge.dev/problems/missing-role',
      requiredRole: 'audit',
    });
  });

  it('searches by requester, provider, type, outcome, matter and time range', async () => {
    const { status, body } = await call(
      'GET',
      '/v1/audit/events?requester=civil-affairs/marriage-registry&provider=public-security&type=resident-id-card&outcome=granted&matter=CA-0201&from=2026-03-05T00:00:00Z&to=2026-03-20T00:00:00Z&limit=500',
    );
    expect(status).toBe(200);
    expect(body.events.length).toBeGreaterThan(0);
    for (const { event } of body.events) {
      expect(event).toMatchObject({
        requester: { system: 'civil-affairs/marriage-registry' },
        provider: 'public-security',
        certificateType: 'resident-id-card',
        outcome: 'granted',
        purpose: { matter: 'CA-0201' },
      });
      expect(event.at >= '2026-03-05' && event.at < '2026-03-20').toBe(true);
    }
    const sequences = body.events.map((row: { sequence: number }) => row.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => b - a));
  });

  it('pages with an opaque cursor, newest first or oldest first, without gaps or repeats', async () => {
    for (const order of ['desc', 'asc']) {
      const seen: number[] = [];
      let url = `/v1/audit/events?kind=lookup&limit=7&order=${order}`;
      for (;;) {
        const { body } = await call('GET', url);
        seen.push(...body.events.map((row: { sequence: number }) => row.sequence));
        if (!body.nextCursor) break;
        url = `/v1/audit/events?kind=lookup&limit=7&cursor=${body.nextCursor}`;
      }
      expect(seen).toHaveLength(61);
      expect(new Set(seen).size).toBe(61);
      expect(seen).toEqual([...seen].sort((a, b) => (order === 'asc' ? a - b : b - a)));
    }
  });

  it('answers a bad search with a 400 naming every mistake', async () => {
    const { status, body } = await call(
      'GET',
      '/v1/audit/events?outcome=approved&limit=1000&from=last-week&requestor=x',
    );
    expect(status).toBe(400);
    expect(body.type).toBe('https://silobridge.dev/problems/invalid-request');
    expect(body.errors.map((error: { pointer: string }) => error.pointer)).toEqual([
      '/outcome',
      '/from',
      '/limit',
      '/requestor',
    ]);
  });

  it('reads one event, and says 404 for one that does not exist', async () => {
    const { body } = await call('GET', '/v1/audit/events/3');
    expect(body).toMatchObject({
      sequence: 3,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      event: { sequence: 3, lookupId: 'lookup-3' },
    });
    expect((await call('GET', '/v1/audit/events/99999')).status).toBe(404);
    expect((await call('GET', '/v1/audit/events/abc')).status).toBe(400);
  });

  it('answers a data subject: who accessed their records, when, for which matter, across certificate types', async () => {
    const { status, body } = await call('POST', '/v1/audit/subjects/report', {
      subject: { residentIdNumber: '１１０１０５１９４９１２３１００２Ｘ' },
    });
    expect(status).toBe(200);
    expect(body.identifierTypes).toEqual(['residentIdNumber']);
    const expected = [61, ...Array.from({ length: 60 }, (_, i) => 60 - i).filter((index) => index % 4 === 0)];
    expect(body.accesses.map((access: { lookupId: string }) => access.lookupId)).toEqual(
      expected.map((index) => `lookup-${index}`),
    );
    expect(body.accesses[0]).toMatchObject({
      certificateType: 'marriage-certificate',
      requester: { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' },
      officer: 'officer-1',
      matter: 'CA-0201',
      caseRef: 'case-61',
      outcome: 'granted',
      at: expect.any(String),
    });
    expect(JSON.stringify(body)).not.toContain(ID_NUMBER);

    // The report is itself in the log, with the subject as a hash only.
    const logged = await call('GET', '/v1/audit/events?kind=audit-access&limit=1');
    expect(logged.body.events[0].event).toMatchObject({
      action: 'subject-report',
      actor: 'audit-office/console',
      subjectHashes: [expect.any(String)],
    });
    expect(JSON.stringify(logged.body)).not.toContain(ID_NUMBER);
  });

  it('keeps identifiers out of URLs: the GET form of the report is refused', async () => {
    const { status, headers } = await call('GET', '/v1/audit/subjects/report');
    expect(status).toBe(405);
    expect(headers.get('allow')).toBe('POST');
    const bad = await call('POST', '/v1/audit/subjects/report', { subject: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ pointer: '/subject', reason: 'must have 1 to 10 identifiers' }]);
  });

  it('searches by subject in a POST body', async () => {
    const { body } = await call('POST', '/v1/audit/events/search', {
      subject: { residentIdNumber: ID_NUMBER },
      outcome: ['denied'],
    });
    expect(body.events.map((row: { event: { lookupId: string } }) => row.event.lookupId)).toEqual([
      'lookup-60',
      'lookup-40',
      'lookup-20',
    ]);
  });

  it('verifies the chain and its checkpoints, and lists the checkpoints', async () => {
    await audit.log.checkpoint();
    const { body } = await call('GET', '/v1/audit/verify');
    expect(body).toMatchObject({
      ok: true,
      firstProblem: null,
      checkpoints: { verified: expect.any(Number) },
    });
    expect(body.checkpoints.verified).toBe(body.checkpoints.total);
    const listed = await call('GET', '/v1/audit/checkpoints?after=0');
    expect(listed.body.checkpoints.length).toBe(body.checkpoints.total);
    expect(listed.body.checkpoints[0]).toMatchObject({
      sequence: 25,
      jws: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
    });
  });

  it('exports NDJSON that verifies offline', async () => {
    const { status, headers, body } = await call('GET', '/v1/audit/export');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toContain('application/x-ndjson');
    const report = await verifyExport(createInterface({ input: Readable.from([body as string]) }));
    expect(report.ok).toBe(true);
    expect(report.checkpoints.verified).toBeGreaterThan(0);
  });

  it('draws a reproducible review sample, records findings and publishes a summary', async () => {
    const request = {
      ...PERIOD,
      size: 6,
      seed: '2026-Q1-public-draw',
      reviewers: ['auditor-li', 'auditor-wang'],
    };
    const first = await call('POST', '/v1/audit/reviews/samples', request);
    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toBe(`/v1/audit/reviews/samples/${first.body.id}`);
    const second = await call('POST', '/v1/audit/reviews/samples', request);
    expect(second.body.items).toEqual(first.body.items);

    // Anyone can redraw it from the published population and seed.
    const population: number[] = [];
    let url =
      '/v1/audit/events?kind=lookup&outcome=granted&order=asc&limit=500&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z';
    for (;;) {
      const { body } = await call('GET', url);
      population.push(
        ...body.events
          .map((row: { sequence: number }) => row.sequence)
          .filter((s: number) => s <= first.body.population.headSequence),
      );
      if (!body.nextCursor) break;
      url = `/v1/audit/events?kind=lookup&outcome=granted&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&limit=500&cursor=${body.nextCursor}`;
    }
    expect(first.body.population.count).toBe(population.length);
    expect(first.body.items.map((item: { sequence: number }) => item.sequence)).toEqual(
      drawSample(request.seed, population, 6),
    );
    expect(first.body.items.map((item: { reviewer: string }) => item.reviewer).sort()).toEqual([
      'auditor-li',
      'auditor-li',
      'auditor-li',
      'auditor-wang',
      'auditor-wang',
      'auditor-wang',
    ]);

    const id = first.body.id as string;
    const [a, b] = first.body.items as Array<{ sequence: number; reviewer: string }>;
    const wrongReviewer = a?.reviewer === 'auditor-li' ? 'auditor-wang' : 'auditor-li';
    expect(
      (
        await call('POST', `/v1/audit/reviews/samples/${id}/findings`, {
          sequence: a?.sequence,
          finding: 'compliant',
          reviewer: wrongReviewer,
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await call('POST', `/v1/audit/reviews/samples/${id}/findings`, {
          sequence: 1_000_000,
          finding: 'compliant',
          reviewer: 'x',
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await call('POST', `/v1/audit/reviews/samples/${id}/findings`, {
          sequence: a?.sequence,
          finding: 'fine',
          reviewer: a?.reviewer,
        })
      ).status,
    ).toBe(400);
    const recorded = await call('POST', `/v1/audit/reviews/samples/${id}/findings`, {
      sequence: a?.sequence,
      finding: 'compliant',
      reviewer: a?.reviewer,
    });
    expect(recorded.status).toBe(201);
    await call('POST', `/v1/audit/reviews/samples/${id}/findings`, {
      sequence: b?.sequence,
      finding: 'compliant',
      reviewer: b?.reviewer,
    });
    // A corrected finding is a new record; the latest counts.
    await call('POST', `/v1/audit/reviews/samples/${id}/findings`, {
      sequence: b?.sequence,
      finding: 'non-compliant',
      reviewer: b?.reviewer,
      note: 'no open case CA-0201 matches',
    });

    const summary = await call('GET', `/v1/audit/reviews/samples/${id}/summary`);
    expect(summary.body).toMatchObject({
      sample: {
        id,
        algorithm: 'silobridge-sample-v1',
        seed: request.seed,
        drawn: 6,
        population: { count: population.length },
      },
      reviewed: 2,
      pending: 4,
      findings: { compliant: 1, 'non-compliant': 1, inconclusive: 0 },
      nonCompliant: [{ sequence: b?.sequence, note: 'no open case CA-0201 matches', reviewer: b?.reviewer }],
    });
    expect(
      summary.body.byRequester.reduce((sum: number, row: { sampled: number }) => sum + row.sampled, 0),
    ).toBe(6);
    expect(JSON.stringify(summary.body)).not.toMatch(/officer-|case-|11010519/);

    // Publishing freezes the summary for anyone to read, without the reviewers' names and notes.
    const unpublished = await call('GET', `/v1/public/reviews/${id}`, undefined, '');
    expect(unpublished.status).toBe(404);
    expect(unpublished.body.type).toMatch(/review-not-published$/);
    const published = await call('POST', `/v1/audit/reviews/samples/${id}/publication`, {});
    expect(published.status).toBe(201);
    expect(published.body).toMatchObject({
      id,
      publishedBy: 'audit-office/console',
      url: `/v1/public/reviews/${id}`,
    });
    expect((await call('POST', `/v1/audit/reviews/samples/${id}/publication`, {}, '')).status).toBe(401);
    const publicSummary = await call('GET', `/v1/public/reviews/${id}`, undefined, '');
    expect(publicSummary.status).toBe(200);
    expect(publicSummary.body).toMatchObject({
      id,
      reviewed: 2,
      pending: 4,
      complete: false,
      findings: { compliant: 1, 'non-compliant': 1, inconclusive: 0 },
      nonCompliant: [{ sequence: b?.sequence, matter: expect.any(String) }],
    });
    expect(JSON.stringify(publicSummary.body)).not.toMatch(/auditor-|no open case|officer-|case-|11010519/);
    // A finding recorded after publication changes nothing published until it is published again.
    await call('POST', `/v1/audit/reviews/samples/${id}/findings`, {
      sequence: a?.sequence,
      finding: 'inconclusive',
      reviewer: a?.reviewer,
    });
    expect((await call('GET', `/v1/public/reviews/${id}`, undefined, '')).body.findings.compliant).toBe(1);
    const listed = await call('GET', '/v1/public/reviews', undefined, '');
    expect(listed.body.reviews).toContainEqual(
      expect.objectContaining({ id, url: `/v1/public/reviews/${id}`, reviewed: 2, complete: false }),
    );
    const missing = await call(
      'POST',
      '/v1/audit/reviews/samples/00000000-0000-4000-8000-000000000000/publication',
      {},
    );
    expect(missing.status).toBe(404);

    const sample = await call('GET', `/v1/audit/reviews/samples/${id}`);
    expect(
      sample.body.items.find((item: { sequence: number }) => item.sequence === b?.sequence).finding,
    ).toMatchObject({ finding: 'non-compliant' });
    const actions = await call('GET', '/v1/audit/events?kind=audit-access&limit=500');
    expect(actions.body.events.map((row: { event: { action: string } }) => row.event.action)).toEqual(
      expect.arrayContaining(['review-sample-drawn', 'review-finding-recorded', 'review-summary-published']),
    );
  });

  it('refuses a sample of a period that is not over, or without one', async () => {
    const { status, body } = await call('POST', '/v1/audit/reviews/samples', {
      from: '2026-01-01T00:00:00Z',
      to: '2999-01-01T00:00:00Z',
      size: 0,
    });
    expect(status).toBe(400);
    expect(body.errors).toEqual([
      { pointer: '/size', reason: 'must be a whole number from 1 to 1000' },
      { pointer: '/to', reason: 'must not be in the future: a period is sampled once it is over' },
    ]);
  });

  it('publishes the signing keys at /.well-known/jwks.json, without authentication', async () => {
    const response = await fetch(`${base}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    const jwks = (await response.json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toEqual([
      {
        kid: harness.signing.keys.activeKid,
        kty: 'EC',
        crv: 'P-256',
        alg: 'ES256',
        use: 'sig',
        x: expect.any(String),
        y: expect.any(String),
      },
    ]);
  });
});
