/**
 * An approval system's end of change notices in tests: a real HTTP server on 127.0.0.1 that records
 * every notice POSTed to it and answers with a status the test chooses (to drill retries), and a
 * reader of a gateway's Server-Sent Events stream of notices.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SignedChangeNotice } from '../../gateway/notices/change-notice.js';

export interface ReceivedNotice {
  headers: IncomingHttpHeaders;
  notice: SignedChangeNotice;
  /** The status this call was answered with. */
  answered: number;
}

export interface NoticeReceiver {
  url: string;
  received: ReceivedNotice[];
  /** What the next calls are answered with (default 204). */
  answerWith(status: number): void;
  /** Resolves once `count` notices were answered 2xx; rejects after `timeoutMs`. */
  waitForDelivered(count: number, timeoutMs?: number): Promise<ReceivedNotice[]>;
  close(): Promise<void>;
}

export async function startNoticeReceiver(): Promise<NoticeReceiver> {
  const received: ReceivedNotice[] = [];
  let status = 204;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answered = status;
      received.push({
        headers: req.headers,
        notice: JSON.parse(Buffer.concat(chunks).toString('utf8')) as SignedChangeNotice,
        answered,
      });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const delivered = () => received.filter((r) => r.answered >= 200 && r.answered < 300);
  return {
    url: `http://127.0.0.1:${port}/silobridge/notices?token=s3cret`,
    received,
    answerWith(next) {
      status = next;
    },
    async waitForDelivered(count, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      while (delivered().length < count) {
        if (Date.now() > until) {
          throw new Error(`${delivered().length} of ${count} notices delivered after ${timeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return delivered();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface StreamEvent {
  id: string;
  event: string;
  data: SignedChangeNotice;
}

/** Reads `GET /v1/subscriptions/notices` until `count` events arrived; then closes the stream. */
export async function readNoticeStream(
  url: string,
  token: string,
  count: number,
  options: { lastEventId?: string; timeoutMs?: number } = {},
): Promise<StreamEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 15_000);
  const events: StreamEvent[] = [];
  try {
    const response = await fetch(`${url}/v1/subscriptions/notices`, {
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: 'text/event-stream',
        ...(options.lastEventId ? { 'Last-Event-ID': options.lastEventId } : {}),
      },
      signal: controller.signal,
    });
    if (response.status !== 200)
      throw new Error(`stream answered ${response.status}: ${await response.text()}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(
          block
            .split('\n')
            .filter((line) => line && !line.startsWith(':'))
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
        );
        if (fields.data) {
          events.push({ id: fields.id ?? '', event: fields.event ?? '', data: JSON.parse(fields.data) });
        }
        if (events.length >= count) {
          controller.abort();
          return events;
        }
        end = buffer.indexOf('\n\n');
      }
    }
    return events;
  } catch (error) {
    if (events.length >= count) return events;
    throw new Error(`${events.length} of ${count} stream events arrived: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
