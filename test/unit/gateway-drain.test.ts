/**
 * A graceful stop takes no new work and lets the work in flight finish, then exits at once: on the
 * embedded database and the in-process bus, with raw keep-alive connections, as a load balancer or
 * a busy client holds them.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningGateway } from '../../gateway/gateway.js';
import { type EmbeddedGateway, startEmbeddedGateway } from '../support/embedded-gateway.js';
import { demoToken } from '../support/gateway-auth.js';
import { lookupBody } from '../support/lookup-fixtures.js';

let embedded: EmbeddedGateway;
let gateway: RunningGateway;
let dataDir: string;
let port: number;

beforeAll(async () => {
  embedded = await startEmbeddedGateway({ env: { SILOBRIDGE_SHUTDOWN_GRACE_MS: '20000' } });
  ({ gateway, dataDir } = embedded);
  port = Number(new URL(gateway.url).port);
});
afterAll(async () => {
  await embedded?.close();
});

/** A raw client connection: what it received, and whether the gateway closed it. */
function open(): Promise<{ socket: Socket; received: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    const ended = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, received: () => data, ended }));
  });
}

describe('draining on SIGTERM', () => {
  it('closes idle keep-alive connections, refuses new ones, finishes the lookup in flight with Connection: close, and stops at once', async () => {
    const token = await demoToken(dataDir);
    // The sample connectors announce themselves shortly after start.
    await vi.waitFor(
      async () => {
        const ready = await fetch(`${gateway.url}/readyz`);
        expect(ready.status).toBe(200);
      },
      { timeout: 20_000, interval: 100 },
    );

    const idle = await open();
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n');
    await vi.waitFor(() =>
      expect(idle.received()).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\n\{"status":"ok"\}/),
    );
    expect(idle.received()).toMatch(/Connection: keep-alive/i);

    // A lookup in flight: its headers are in, its body is still coming.
    const body = JSON.stringify(lookupBody('resident-id-card'));
    const busy = await open();
    busy.socket.write(
      `POST /v1/lookups HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 20)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));

    const startedAt = performance.now();
    const closing = gateway.close();
    await idle.ended;

    // New connections are refused at once.
    await expect(open()).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    busy.socket.write(body.slice(20));
    await busy.ended;
    const response = busy.received();
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toMatch(/\r\nConnection: close\r\n/i);
    expect(response).toContain('"certificateType":"resident-id-card"');

    await closing;
    // Well within the 20 s grace period: it stopped once the last request was done.
    expect(performance.now() - startedAt).toBeLessThan(5_000);
  });
});
