/**
 * Draining for a graceful stop (SIGTERM). Once draining starts, the gateway takes no new work and
 * lets the work it has finish:
 * - the listener closes (new connections are refused) and idle keep-alive connections are closed;
 * - every response still to be sent, in flight or later, says `Connection: close`, so Node.js closes
 *   each busy keep-alive connection as its response finishes instead of reading another request;
 * - a request that still arrives (pipelined, or racing the close) is refused with 503 `shutting-down`
 *   and `Retry-After`, so a client or load balancer retries it on another instance;
 * - the server's `close` fires as soon as the last connection ends: the process exits then, not at
 *   the end of the grace period. Connections still busy at the end of the grace period are cut.
 */
import type { Server, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { ServiceUnavailableError } from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';

export interface Drain {
  /** Mount before the routers: tracks responses in flight and refuses new work once draining. */
  middleware: RequestHandler;
  readonly draining: boolean;
  /**
   * Starts draining `server` and resolves once every connection has ended, or once `graceMs` has
   * passed (then the remaining connections are closed).
   */
  drain(server: Server, graceMs: number, logger: Logger): Promise<void>;
}

export function createDrain(): Drain {
  let draining = false;
  const inFlight = new Set<ServerResponse>();

  const middleware: RequestHandler = (_req, res, next) => {
    if (draining) {
      res.setHeader('Connection', 'close');
      const error = new ServiceUnavailableError(
        'The gateway instance is shutting down; send the request again (another instance will take it).',
        'shutting-down',
      );
      error.headers['Retry-After'] = '1';
      throw error;
    }
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    next();
  };

  async function drain(server: Server, graceMs: number, logger: Logger): Promise<void> {
    draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    // Keep-alive connections with no request in flight would hold close() open until they time out.
    server.closeIdleConnections();
    logger.info({ inFlight: inFlight.size }, 'draining in-flight requests');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    if ((await Promise.race([closed, timedOut])) === 'timeout') {
      logger.warn(
        { graceMs, inFlight: inFlight.size },
        'requests still running after the shutdown grace period; closing their connections',
      );
      server.closeAllConnections();
      await closed;
    }
    clearTimeout(timer);
  }

  return {
    middleware,
    get draining() {
      return draining;
    },
    drain,
  };
}
