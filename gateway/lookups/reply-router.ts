/**
 * Request-reply over the bus. Each gateway instance consumes its own reply topic (a consumer group of
 * one: kafkajs has no assign()) and matches replies to waiting lookups by the `kafka_correlationId`
 * header. A reply that arrives after its deadline is dropped and counted; one with an unknown
 * correlation id (another instance's, or forged) is ignored and counted.
 *
 * A lookup answers by its deadline whatever the bus does: the wait for the reply starts with the
 * publish, not after it, so a publish still retrying against a stopped broker cannot hold the answer
 * (or leave a rejection nobody awaits). Once the bus is known down (a publish failed, or was still
 * not done when its lookup's deadline passed) lookups are refused at once with 503 `bus-unavailable`
 * instead of each waiting out its deadline; one lookup a second still goes out as a probe, and the
 * first publish that succeeds (or reply that arrives) puts the bus back in service.
 */

import { GatewayTimeoutError, ServiceUnavailableError } from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';
import type { Bus, BusHeaders, IncomingMessage, Subscription } from '../protocol/bus.js';
import { CORRELATION_HEADER, REPLY_TOPIC_HEADER } from '../protocol/topics.js';

export interface ReplyRouterStats {
  lateReplies: number;
  unknownReplies: number;
}

interface Pending {
  resolve(message: IncomingMessage): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export interface SendRequest {
  topic: string;
  correlationId: string;
  key: string;
  value: string;
  deadline: number;
  headers?: BusHeaders;
}

/** How long a timed-out correlation id is remembered, so its late reply counts as late, not unknown. */
const LATE_MEMORY_MS = 5 * 60_000;
/** While the bus is down, one lookup this often is sent anyway, to notice that it is back. */
export const BUS_PROBE_INTERVAL_MS = 1000;

interface BusOutage {
  since: number;
  reason: string;
}

export class ReplyRouter {
  private readonly pending = new Map<string, Pending>();
  private readonly timedOut = new Map<string, number>();
  private subscription: Subscription | undefined;
  private fetching = false;
  private outage: BusOutage | undefined;
  /** The correlation id of the lookup probing a bus that is down, while its publish is out. */
  private probe: string | undefined;
  private lastProbeAt = 0;
  readonly stats: ReplyRouterStats = { lateReplies: 0, unknownReplies: 0 };

  constructor(
    private readonly bus: Bus,
    readonly replyTopic: string,
    private readonly groupId: string,
    private readonly logger: Logger,
  ) {}

  /** The reply topic must exist (created by the caller, with its retention). */
  async start(): Promise<void> {
    this.subscription = await this.bus.subscribe({
      topics: [this.replyTopic],
      groupId: this.groupId,
      handle: async (message) => this.onReply(message),
    });
    // A subscription stopped before its first fetch rejects `ready`: nothing to mark then.
    this.subscription.ready.then(
      () => {
        this.fetching = true;
      },
      () => {},
    );
  }

  /** Rejects until the reply consumer is assigned and fetching: before that, replies could be missed. */
  async checkReady(): Promise<void> {
    if (!this.subscription?.isRunning()) throw new Error('the reply consumer is not running');
    if (!this.fetching) throw new Error('the reply consumer is joining its group');
  }

  /** The bus outage lookups are being refused for, if any. */
  get busOutage(): Readonly<BusOutage> | undefined {
    return this.outage;
  }

  /**
   * Publishes the request and resolves with the reply; rejects with 504 at the deadline, or with 503
   * `bus-unavailable` as soon as the publish fails or while the bus is known down.
   */
  request(request: SendRequest): Promise<IncomingMessage> {
    const { correlationId } = request;
    const waitMs = request.deadline - Date.now();
    if (waitMs <= 0) {
      return Promise.reject(
        new GatewayTimeoutError('The lookup deadline passed before the request was sent.'),
      );
    }
    if (this.outage && !this.mayProbe(correlationId)) {
      return Promise.reject(
        new ServiceUnavailableError(
          `The bus has been unavailable since ${new Date(this.outage.since).toISOString()} ` +
            `(${this.outage.reason}); lookups are refused until it is back.`,
          'bus-unavailable',
        ),
      );
    }
    let published = false;
    const reply = new Promise<IncomingMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        this.rememberTimedOut(correlationId);
        if (!published) {
          this.busDown(`a lookup request was not delivered to the bus within its ${waitMs} ms deadline`);
          if (this.probe === correlationId) this.probe = undefined;
        }
        reject(new GatewayTimeoutError(`The provider's connector did not answer within ${waitMs} ms.`));
      }, waitMs);
      this.pending.set(correlationId, { resolve, reject, timer });
    });
    // Not awaited: the reply's deadline runs from now, whatever the publish does meanwhile.
    this.bus
      .publish(request.topic, [
        {
          key: request.key,
          value: request.value,
          headers: {
            ...request.headers,
            [CORRELATION_HEADER]: correlationId,
            [REPLY_TOPIC_HEADER]: this.replyTopic,
          },
        },
      ])
      .then(
        () => {
          published = true;
          this.busUp();
        },
        (error: Error) => {
          this.busDown(error.message);
          this.settle(correlationId)?.reject(
            new ServiceUnavailableError(
              `The lookup could not be sent to the provider: ${error.message}`,
              'bus-unavailable',
            ),
          );
        },
      )
      .finally(() => {
        if (this.probe === correlationId) this.probe = undefined;
      });
    return reply;
  }

  /** While the bus is down: whether this lookup goes out anyway, as the probe that notices it is back. */
  private mayProbe(correlationId: string): boolean {
    const now = Date.now();
    if (this.probe !== undefined || now - this.lastProbeAt < BUS_PROBE_INTERVAL_MS) return false;
    this.probe = correlationId;
    this.lastProbeAt = now;
    return true;
  }

  private busDown(reason: string): void {
    if (this.outage) return;
    this.outage = { since: Date.now(), reason };
    this.lastProbeAt = Date.now();
    this.logger.warn({ reason }, 'the bus is down: lookups are refused (503) until a probe gets through');
  }

  private busUp(): void {
    if (!this.outage) return;
    this.logger.info(
      { downForMs: Date.now() - this.outage.since },
      'the bus is back: lookups are sent again',
    );
    this.outage = undefined;
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    for (const id of [...this.pending.keys()]) {
      this.settle(id)?.reject(new ServiceUnavailableError('The gateway is shutting down.'));
    }
  }

  private async onReply(message: IncomingMessage): Promise<void> {
    const correlationId = message.headers[CORRELATION_HEADER];
    const waiting = correlationId === undefined ? undefined : this.settle(correlationId);
    this.busUp();
    if (waiting) {
      waiting.resolve(message);
      return;
    }
    if (correlationId !== undefined && this.timedOut.has(correlationId)) {
      this.timedOut.delete(correlationId);
      this.stats.lateReplies += 1;
      this.logger.warn({ correlationId }, 'late reply dropped: the lookup had already timed out');
      return;
    }
    this.stats.unknownReplies += 1;
    this.logger.warn({ correlationId, offset: message.offset }, 'reply with unknown correlation id ignored');
  }

  private settle(correlationId: string): Pending | undefined {
    const waiting = this.pending.get(correlationId);
    if (!waiting) return undefined;
    clearTimeout(waiting.timer);
    this.pending.delete(correlationId);
    return waiting;
  }

  private rememberTimedOut(correlationId: string): void {
    const now = Date.now();
    this.timedOut.set(correlationId, now);
    // Maps iterate in insertion order: the oldest entries are first.
    for (const [id, at] of this.timedOut) {
      if (now - at < LATE_MEMORY_MS) break;
      this.timedOut.delete(id);
    }
  }
}
