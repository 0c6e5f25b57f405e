/**
 * The bare Express 5 baseline, its own process: one POST route with express.json() that answers a
 * JSON body about the size of a lookup's, the least an HTTP JSON service on this machine costs.
 *   node --import tsx test/bench/bench-express.ts   (driven over IPC by gateway-bench.ts)
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { serveOrchestrator } from './bench-process.js';

const app = express();
app.disable('x-powered-by');
app.post('/echo', express.json(), (req, res) => {
  res.json({ requestId: 'r-1', receivedAt: new Date().toISOString(), request: req.body });
});
const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  serveOrchestrator(
    { url: `http://127.0.0.1:${port}` },
    async () => ({}),
    () => new Promise<void>((resolve) => server.close(() => resolve())),
  );
});
