/**
 * The benchmark's HTTP load generator, its own process: POSTs lookups (or batches of 100, or the bare
 * Express route's echo, or SC-0201's evidence bundles and single lookups of one of its types:
 * bench-matter.ts) to `url` over keep-alive connections, `concurrency` at a time, and answers the
 * orchestrator with the phase's throughput and latencies. A lookup counts only when answered 200 (a
 * batch item only when its own status is 200, a bundle only when every one of its items is found).
 *   node --import tsx test/bench/bench-load.ts <url> [maxSockets=256]   (driven over IPC by gateway-bench.ts,
 *   and by rss-in-flight.ts with more sockets than lookups in flight)
 */
import http from 'node:http';
import { CERTIFICATE_TYPES, lookupBody } from '../support/lookup-fixtures.js';
import { bundleBody, bundleFixture, matterLookupBody } from './bench-matter.js';
import { type BenchMessage, runPhase, serveOrchestrator } from './bench-process.js';

export type LoadKind = 'lookup' | 'batch' | 'echo' | 'matter-lookup' | 'bundle';

const base = new URL(process.argv[2] ?? 'http://127.0.0.1:8080');
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(process.argv[3] ?? 256) });

const MATTER = await bundleFixture();
/** Bodies built once: the load generator should spend its CPU on sending, not on JSON. */
const LOOKUPS = Array.from({ length: 40 }, (_, i) =>
  lookupBody(CERTIFICATE_TYPES[i % CERTIFICATE_TYPES.length] as string, i % 8),
);
const BODIES: Record<LoadKind, { path: string; bodies: string[] }> = {
  lookup: { path: '/v1/lookups', bodies: LOOKUPS.map((body) => JSON.stringify(body)) },
  batch: {
    path: '/v1/lookups:batch',
    bodies: [0, 1, 2, 3].map((shift) =>
      JSON.stringify({
        lookups: Array.from({ length: 100 }, (_, i) => LOOKUPS[(i + shift) % LOOKUPS.length]),
      }),
    ),
  },
  echo: { path: '/echo', bodies: LOOKUPS.map((body) => JSON.stringify(body)) },
  'matter-lookup': {
    path: '/v1/lookups',
    bodies: MATTER.applicants.map((applicant) => JSON.stringify(matterLookupBody(MATTER, applicant))),
  },
  bundle: {
    path: `/v1/matters/${MATTER.matter}/evidence`,
    bodies: MATTER.applicants.map((applicant) => JSON.stringify(bundleBody(MATTER, applicant))),
  },
};

/**
 * One POST. A kept-alive connection the gateway closes after its idle timeout (5 s) just as this
 * sends on it fails with ECONNRESET before the request was read (the connections idle while a phase
 * at 1 in flight runs): as Node.js's documentation advises, that request is sent again once.
 */
function post(
  path: string,
  body: string,
  token: string | undefined,
  retried = false,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: base.hostname,
        port: base.port,
        path,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (!retried && request.reusedSocket && error.code === 'ECONNRESET') {
        post(path, body, token, true).then(resolve, reject);
      } else reject(error);
    });
    request.end(body);
  });
}

async function call(kind: LoadKind, i: number, token: string | undefined) {
  const { path, bodies } = BODIES[kind];
  const { status, text } = await post(path, bodies[i % bodies.length] as string, token);
  if (status !== 200) return { items: 0, failure: `HTTP ${status}` };
  if (kind === 'bundle') return bundleOutcome(text);
  if (kind !== 'batch') return { items: 1 };
  const { summary, results } = JSON.parse(text) as {
    summary: { succeeded: number; failed: number };
    results: Array<{ status: number; problem?: { type?: string } }>;
  };
  if (summary.failed === 0) return { items: summary.succeeded };
  const statuses = [
    ...new Set(
      results
        .filter((r) => r.status !== 200)
        .map((r) => `${r.status} ${r.problem?.type?.split('/').at(-1) ?? ''}`.trim()),
    ),
  ].join(',');
  return { items: summary.succeeded, failure: `batch items answered ${statuses} (${summary.failed})` };
}

/** A bundle counts when it holds one item per certificate type of the matter, every one found. */
function bundleOutcome(text: string): { items: number; failure?: string } {
  const { items } = JSON.parse(text) as { items: Array<{ certificateType: string; status: string }> };
  const found = items.filter((item) => item.status === 'found').length;
  if (found === MATTER.certificateTypes.length && items.length === found) return { items: 1 };
  const statuses = items.map((item) => `${item.certificateType} ${item.status}`).join(', ');
  return { items: 0, failure: `bundle items: ${statuses || 'none'}` };
}

serveOrchestrator(
  {},
  async (message: BenchMessage) => {
    const { kind, count, concurrency, token, samples, offset } = message as unknown as {
      kind: LoadKind;
      count: number;
      concurrency: number;
      token?: string;
      /** Return every call's latency too (the orchestrator merges rounds of one case). */
      samples?: boolean;
      /** Index of the first call, so successive rounds go on through the bodies. */
      offset?: number;
    };
    const result = await runPhase(count, concurrency, (i) => call(kind, i, token), { samples, offset });
    return { result };
  },
  async () => {
    agent.destroy();
  },
);
