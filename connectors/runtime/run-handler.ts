/**
 * Runs one handler call under the lookup's deadline and the connector's own handler timeout. Either
 * aborts the handler's signal and ends the wait, even for a handler that ignores its signal.
 */
import type { LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';
import type { Logger } from '../../gateway/protocol/logger.js';
import { type CertificateHandler, type CertificateRecord, LookupFailure } from './certificate-handler.js';
import type { ReplyOutcome } from './replies.js';

export type HandlerResult =
  | { kind: 'answered'; record: CertificateRecord | undefined }
  | { kind: 'failed'; error: unknown }
  | { kind: 'expired' };

export async function runWithDeadline(
  handler: CertificateHandler,
  request: LookupRequestEnvelope,
  remainingMs: number,
  handlerTimeoutMs: number,
): Promise<HandlerResult> {
  const controller = new AbortController();
  const timedOut = handlerTimeoutMs < remainingMs;
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<HandlerResult>((resolve) => {
    timer = setTimeout(
      () => {
        controller.abort(new Error(timedOut ? 'handler timeout' : 'lookup deadline passed'));
        resolve(
          timedOut
            ? { kind: 'failed', error: new HandlerTimeoutError(handlerTimeoutMs) }
            : { kind: 'expired' },
        );
      },
      Math.min(remainingMs, handlerTimeoutMs),
    );
  });
  const running = Promise.resolve()
    .then(() => handler.lookup(request, controller.signal))
    .then(
      (record): HandlerResult => ({ kind: 'answered', record }),
      (error: unknown): HandlerResult => ({ kind: 'failed', error }),
    );
  try {
    return await Promise.race([running, stopped]);
  } finally {
    clearTimeout(timer);
  }
}

export class HandlerTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`handler did not answer within ${timeoutMs} ms`);
  }
}

/** The error reply for a failed handler; only a LookupFailure chooses what the requester reads. */
export function failureOutcome(error: unknown, log: Logger): ReplyOutcome {
  if (error instanceof LookupFailure) {
    log.warn({ err: error, code: error.code }, 'lookup failed');
    return { outcome: 'error', code: error.code, message: error.publicMessage };
  }
  if (error instanceof HandlerTimeoutError) {
    log.error({ timeoutMs: error.timeoutMs }, 'handler timed out');
    return {
      outcome: 'error',
      code: 'adapter-failed',
      message: "The department's system did not answer in time.",
    };
  }
  // The error's own text may hold SQL, hosts or personal data: it stays in the department's logs.
  log.error({ err: error }, 'handler failed');
  return {
    outcome: 'error',
    code: 'adapter-failed',
    message: "The department's system could not answer the lookup.",
  };
}
