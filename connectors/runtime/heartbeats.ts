/**
 * Announces a connector instance on the heartbeat topic: `up` at once and every interval while it
 * runs, `down` when it stops gracefully. Gateways route only to departments with a live instance, so
 * a lost heartbeat makes lookups fail fast (503) instead of waiting for a timeout.
 */
import type { Bus } from '../../gateway/protocol/bus.js';
import { type DepartmentSigner, signHeartbeat } from '../../gateway/protocol/department-signature.js';
import type { HeartbeatEnvelope } from '../../gateway/protocol/envelopes.js';
import type { Logger } from '../../gateway/protocol/logger.js';

/** Announced in heartbeats, so operators see which SDK release each instance runs. */
export const CONNECTOR_VERSION = 'silobridge-sdk/0.1.0';

export interface HeartbeatOptions {
  bus: Bus;
  topic: string;
  department: string;
  instanceId: string;
  certificateTypes: HeartbeatEnvelope['certificateTypes'];
  intervalMs: number;
  /** Heartbeats are signed like replies, so no one can announce another department's connector as down. */
  signer: DepartmentSigner;
  /** Requests being handled now, announced with each heartbeat. */
  inFlight?: () => number;
  logger: Logger;
  now?: () => Date;
}

export interface Heartbeats {
  /** Sends `up` (rejecting if that first one cannot be sent), then keeps sending it every interval. */
  start(): Promise<void>;
  /** Stops the timer and sends `down` (best effort: a failure is logged, not thrown). */
  stop(): Promise<void>;
}

/** After a heartbeat could not be sent, the next try comes this soon. */
const HEARTBEAT_RETRY_MS = 1000;

export function createHeartbeats(options: HeartbeatOptions): Heartbeats {
  const { bus, topic, logger } = options;
  const now = options.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> = Promise.resolve();

  const send = async (state: HeartbeatEnvelope['state']) => {
    const heartbeat: HeartbeatEnvelope = {
      version: 1,
      department: options.department,
      instanceId: options.instanceId,
      certificateTypes: options.certificateTypes,
      state,
      intervalMs: options.intervalMs,
      sentAt: now().toISOString(),
      connectorVersion: CONNECTOR_VERSION,
      ...(options.inFlight ? { inFlight: options.inFlight() } : {}),
    };
    const signature = await signHeartbeat(options.signer, heartbeat);
    await bus.publish(topic, [
      {
        // Keyed by instance, so a compacted heartbeat topic keeps each instance's last word.
        key: `${options.department}/${options.instanceId}`,
        value: JSON.stringify({ ...heartbeat, signature }),
        headers: { 'content-type': 'application/json' },
      },
    ]);
  };

  let stopped = false;
  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(beat, delayMs);
    timer.unref();
  };
  const beat = () => {
    // Chained, so a slow broker cannot reorder an `up` after the final `down`.
    sending = sending.then(() =>
      send('up').then(
        () => schedule(options.intervalMs),
        (error: unknown) => {
          logger.warn({ err: error }, 'heartbeat could not be sent');
          // Gateways count this instance gone after three intervals without one: once the bus is
          // back, announce the instance within a second rather than at the next interval.
          schedule(Math.min(HEARTBEAT_RETRY_MS, options.intervalMs));
        },
      ),
    );
  };

  return {
    async start() {
      await send('up');
      schedule(options.intervalMs);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await sending;
      await send('down').catch((error: unknown) =>
        logger.warn({ err: error }, 'final heartbeat could not be sent'),
      );
    },
  };
}
