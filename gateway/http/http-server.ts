/**
 * The HTTP server around the Express app, with the limits that keep slow or greedy clients from
 * holding the gateway: a client has `headersTimeoutMs` to send its headers and `requestTimeoutMs` to
 * send the whole request (a slow-header or slow-body client is cut then, answered 408), an idle
 * keep-alive connection is closed after `keepAliveTimeoutMs`, headers are bounded in count and size,
 * and so are open connections, in total and per client address.
 *
 * What Node.js answers itself before the app sees a request (a request that is not HTTP, headers too
 * large, a timeout, an `Expect` it does not know) is problem JSON too, like every other error.
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpServerSettings } from '../foundation/config.js';
import { PROBLEM_TYPE_BASE } from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';
import { PROBLEM_CONTENT_TYPE, type ProblemDocument } from './problem.js';

/** How often Node.js looks for requests past their timeout: a small part of the shortest timeout. */
export function connectionsCheckingIntervalMs(settings: HttpServerSettings): number {
  const shortest = Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs);
  return Math.max(25, Math.min(1000, Math.floor(shortest / 4)));
}

function problem(status: number, name: string, detail: string): ProblemDocument {
  return { type: PROBLEM_TYPE_BASE + name, title: STATUS_CODES[status] ?? 'Error', status, detail };
}

/** What a client error from Node's HTTP parser or its timeouts is answered with. */
export function clientErrorProblem(code: string | undefined): ProblemDocument {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return problem(
        408,
        'request-timeout',
        'The request was not received in time: send the headers, then the body, without pausing.',
      );
    case 'HPE_HEADER_OVERFLOW':
      return problem(431, 'headers-too-large', 'The request line and headers are too large.');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return problem(400, 'malformed-request', 'The chunk extensions of the request body are too large.');
    default:
      return problem(400, 'malformed-request', 'The request is not valid HTTP/1.1.');
  }
}

/** A whole HTTP/1.1 response, for a socket no ServerResponse writes to; the connection closes after it. */
function rawResponse(document: ProblemDocument): string {
  const body = JSON.stringify(document);
  return [
    `HTTP/1.1 ${document.status} ${STATUS_CODES[document.status] ?? 'Error'}`,
    `Content-Type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'X-Content-Type-Options: nosniff',
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // As Node.js does by default: answer only if nothing of a response went out on this connection yet.
  const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
  if (socket.writable && !inFlight?.headersSent && error.code !== 'ECONNRESET') {
    socket.write(rawResponse(clientErrorProblem(error.code)));
    (socket as Socket).destroySoon?.();
  } else {
    socket.destroy();
  }
}

/** A problem answered outside the Express app (no request id yet); the connection closes after it. */
function sendProblemAndClose(req: IncomingMessage, res: ServerResponse, document: ProblemDocument): void {
  const body = JSON.stringify(document);
  res.writeHead(document.status, {
    'Content-Type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    Connection: 'close',
  });
  res.end(body);
  req.resume();
}

/** `Expect` other than 100-continue: 417. */
function answerExpectation(req: IncomingMessage, res: ServerResponse): void {
  sendProblemAndClose(
    req,
    res,
    problem(417, 'expectation-failed', 'The only expectation this server meets is Expect: 100-continue.'),
  );
}

/** RFC 9112: an HTTP/1.1 request without Host is answered 400 (Node.js would, without a body). */
function requiringHost(app: RequestListener): RequestListener {
  return (req, res) => {
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      sendProblemAndClose(
        req,
        res,
        problem(400, 'malformed-request', 'An HTTP/1.1 request must carry a Host header.'),
      );
      return;
    }
    app(req, res);
  };
}

/** Refuses a connection (closes it at once) when its client address already holds `max`. */
function limitConnectionsPerClient(server: Server, max: number, logger: Logger | undefined): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const client = socket.remoteAddress ?? 'unknown';
    const count = open.get(client) ?? 0;
    if (count >= max) {
      logger?.debug({ client, open: count }, 'connection refused: too many from this client');
      socket.destroy();
      return;
    }
    open.set(client, count + 1);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left > 0) open.set(client, left);
      else open.delete(client);
    });
  });
}

export function createHttpServer(
  app: RequestListener,
  settings: HttpServerSettings,
  logger?: Logger,
): Server {
  const server = createServer(
    {
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      keepAliveTimeout: settings.keepAliveTimeoutMs,
      maxHeaderSize: settings.maxHeaderBytes,
      connectionsCheckingInterval: connectionsCheckingIntervalMs(settings),
      requireHostHeader: false,
    },
    requiringHost(app),
  );
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
  server.maxHeadersCount = settings.maxHeaders;
  server.maxConnections = settings.maxConnections;
  if (settings.maxConnectionsPerClient > 0) {
    limitConnectionsPerClient(server, settings.maxConnectionsPerClient, logger);
  }
  server.on('clientError', answerClientError);
  server.on('checkExpectation', answerExpectation);
  return server;
}
