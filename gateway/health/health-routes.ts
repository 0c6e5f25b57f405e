/**
 * `/healthz`: the process is up (liveness). `/readyz`: it can serve lookups (database and bus reachable,
 * reply consumer fetching, not shutting down); otherwise 503 problem JSON naming what is not ready.
 */
import { Router } from 'express';
import { ServiceUnavailableError } from '../foundation/errors.js';

export interface ReadinessCheck {
  name: string;
  /** Rejects (with a message saying why) when the dependency is not ready. */
  check(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 2000;

async function runCheck(check: ReadinessCheck): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check.check(), timeout]);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

export function createHealthRouter(checks: ReadinessCheck[], isDraining: () => boolean): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (isDraining()) throw new ServiceUnavailableError('The gateway is shutting down.', 'not-ready', {});
    const results = await Promise.all(
      checks.map(async (check) => [check.name, await runCheck(check)] as const),
    );
    const failing = results.filter(([, failure]) => failure !== undefined);
    const summary = Object.fromEntries(results.map(([name, failure]) => [name, failure ?? 'ok']));
    if (failing.length > 0) {
      throw new ServiceUnavailableError(
        `Not ready: ${failing.map(([name, failure]) => `${name}: ${failure}`).join('; ')}`,
        'not-ready',
        { checks: summary },
      );
    }
    res.json({ status: 'ready', checks: summary });
  });
  return router;
}
