/**
 * Server-Sent Events streams of change notices (GET /v1/subscriptions/notices), one per connected
 * system on this instance. Each notice is one `change-notice` event whose `id` is its delivery's
 * sequence number: a client that reconnects with `Last-Event-ID` gets again every stream notice after
 * it (at least once). A comment line every `keepAliveMs` keeps proxies from closing an idle stream.
 */
import type { Response } from 'express';

export interface NoticeStreams {
  /** Systems with a stream open on this instance: their stream deliveries are claimed here. */
  systems(): string[];
  /** Serves `res` as the system's stream until the client goes (or `closeAll`). */
  open(systemId: string, res: Response): void;
  /** Writes one notice to the system's newest stream; false when none is open. */
  send(systemId: string, id: string, data: object): boolean;
  /** Ends every stream (a draining gateway): clients reconnect, to another instance. */
  closeAll(): void;
}

export function createNoticeStreams(options: { keepAliveMs?: number; retryMs?: number } = {}): NoticeStreams {
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const retryMs = options.retryMs ?? 2000;
  const open = new Map<string, Response[]>();

  const remove = (systemId: string, res: Response) => {
    const left = (open.get(systemId) ?? []).filter((other) => other !== res);
    if (left.length > 0) open.set(systemId, left);
    else open.delete(systemId);
  };

  return {
    systems: () => [...open.keys()],
    open(systemId, res) {
      res.status(200);
      res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      // Nginx and similar proxies would buffer the stream otherwise.
      res.setHeader('X-Accel-Buffering', 'no');
      res.flushHeaders();
      res.write(`retry: ${retryMs}\n\n`);
      open.set(systemId, [...(open.get(systemId) ?? []), res]);
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
      keepAlive.unref();
      res.once('close', () => {
        clearInterval(keepAlive);
        remove(systemId, res);
      });
    },
    send(systemId, id, data) {
      const newest = open.get(systemId)?.at(-1);
      if (!newest || newest.writableEnded || newest.destroyed) return false;
      newest.write(`id: ${id}\nevent: change-notice\ndata: ${JSON.stringify(data)}\n\n`);
      return true;
    },
    closeAll() {
      for (const streams of open.values()) for (const res of streams) res.end();
      open.clear();
    },
  };
}
