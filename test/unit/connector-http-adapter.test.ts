import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpHandler } from '../../connectors/adapters/http-adapter.js';
import type { LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';

function request(subject: Record<string, unknown>): LookupRequestEnvelope {
  return {
    version: 1,
    lookupId: '2d1f3c4e-0000-4000-8000-000000000001',
    certificateType: 'real-estate-certificate',
    schemaVersion: 1,
    subject,
    purpose: { matter: 'NR-0001', caseRef: 'case-1', officer: 'officer-1' },
    requester: { department: 'civil-affairs' },
    deadline: new Date(Date.now() + 5000).toISOString(),
  } as LookupRequestEnvelope;
}

const RECORD = { certificateNumber: '闽(2021)福州市不动产权第0012345号', area: 89.5 };

describe('HTTP adapter (real local HTTP server)', () => {
  let server: Server;
  let baseUrl: string;
  const seen: IncomingMessage[] = [];
  const hanging = new Set<() => void>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname.endsWith('/slow')) {
        // Never answers on its own; released when the client goes away.
        req.on('close', () => res.destroy());
        hanging.add(() => res.destroy());
        return;
      }
      if (url.pathname.endsWith('/broken')) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('stack trace with secrets');
        return;
      }
      const number = decodeURIComponent(url.pathname.split('/').at(-1) ?? '');
      if (number === RECORD.certificateNumber) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: RECORD }));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2`;
  });

  afterAll(async () => {
    for (const release of hanging) release();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const handler = () =>
    createHttpHandler({
      baseUrl,
      path: '/certificates/{certificateNumber}',
      schemaVersion: 1,
      headers: { 'x-api-key': 'department-key' },
      timeoutMs: 2000,
      mapResponse: (body) => (body as { data: Record<string, unknown> }).data,
    });

  it('GETs the record under baseUrl, the identifier URL-encoded, and maps the body', async () => {
    const record = await handler().lookup(
      request({ certificateNumber: RECORD.certificateNumber }),
      new AbortController().signal,
    );
    expect(record).toEqual(RECORD);
    const call = seen.at(-1) as IncomingMessage;
    expect(call.method).toBe('GET');
    expect(call.url).toBe(`/api/v2/certificates/${encodeURIComponent(RECORD.certificateNumber)}`);
    expect(call.headers['x-api-key']).toBe('department-key');
    expect(call.headers['x-silobridge-lookup-id']).toBe('2d1f3c4e-0000-4000-8000-000000000001');
  });

  it('keeps path-like identifiers inside the path segment', async () => {
    await handler().lookup(request({ certificateNumber: '../../admin?x=1' }), new AbortController().signal);
    expect(seen.at(-1)?.url).toBe('/api/v2/certificates/..%2F..%2Fadmin%3Fx%3D1');
  });

  it('answers not found on 404', async () => {
    expect(
      await handler().lookup(request({ certificateNumber: 'unknown' }), new AbortController().signal),
    ).toBeUndefined();
  });

  it('fails on another error status, without the body in the error', async () => {
    const failing = createHttpHandler({ baseUrl, path: () => '/broken', schemaVersion: 1 });
    const error = await failing
      .lookup(request({}), new AbortController().signal)
      .catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toMatch(/HTTP 500/);
    expect(error?.message).not.toMatch(/secrets/);
  });

  it('gives up after its timeout', async () => {
    const slow = createHttpHandler({ baseUrl, path: () => '/slow', schemaVersion: 1, timeoutMs: 100 });
    await expect(slow.lookup(request({}), new AbortController().signal)).rejects.toThrow(/timeout|aborted/i);
  });

  it('gives up when the lookup signal aborts (the deadline)', async () => {
    const slow = createHttpHandler({ baseUrl, path: () => '/slow', schemaVersion: 1, timeoutMs: 10_000 });
    const deadline = new AbortController();
    const pending = slow.lookup(request({}), deadline.signal);
    deadline.abort(new Error('lookup deadline passed'));
    await expect(pending).rejects.toThrow(/deadline/);
  });

  it('needs every template placeholder in the subject', async () => {
    await expect(
      handler().lookup(request({ ownerIdNumber: '350102199003077715' }), new AbortController().signal),
    ).rejects.toThrow(/no 'certificateNumber' identifier/);
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => createHttpHandler({ baseUrl: 'file:///etc', path: '/x', schemaVersion: 1 })).toThrow(/http/);
  });
});
