/**
 * Request-reply over the bus. Each gateway instance consumes its own reply topic (a consumer group of
 * one: kafkajs has no assign()) and matches replies to waiting lookups by the `kafka_correlationId`
 * header. A reply that arrives after its deadline is dropped and counted; one with an unknown
 * correlation id (another instance's, or forged) is ignored and counted.
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

export class ReplyRouter {
  private readonly pending = new Map<string, Pending>();
  private readonly timedOut = new Map<string, number>();
  private subscription: Subscription | undefined;
  private fetching = false;
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

  /** Publishes the request and resolves with the reply, or rejects with 504 at the deadline. */
  async request(request: SendRequest): Promise<IncomingMessage> {
    const waitMs = request.deadline - Date.now();
    if (waitMs <= 0) throw new GatewayTimeoutError('The lookup deadline passed before the request was sent.');
    const reply = new Promise<IncomingMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(request.correlationId);
        this.rememberTimedOut(request.correlationId);
        reject(new GatewayTimeoutError(`The provider's connector did not answer within ${waitMs} ms.`));
      }, waitMs);
      this.pending.set(request.correlationId, { resolve, reject, timer });
    });
    try {
      await this.bus.publish(request.topic, [
        {
          key: request.key,
          value: request.value,
          headers: {
            ...request.headers,
            [CORRELATION_HEADER]: request.correlationId,
            [REPLY_TOPIC_HEADER]: this.replyTopic,
          },
        },
      ]);
    } catch (error) {
      this.settle(request.correlationId)?.reject(
        new ServiceUnavailableError(
          `The lookup could not be sent to the provider: ${(error as Error).message}`,
          'bus-unavailable',
        ),
      );
    }
    return reply;
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
