/**
 * A stand-in for the gateway's side of the protocol, for testing a connector without a gateway: sends
 * lookup requests to a department's request topic and collects the replies on its own reply topic.
 */
import { randomUUID } from 'node:crypto';
import type { Bus, BusHeaders, IncomingMessage, Subscription } from '../../gateway/protocol/bus.js';
import type { LookupReplyEnvelope, LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';
import { unkeyedSubjectKey } from '../../gateway/protocol/subject-key.js';
import {
  CORRELATION_HEADER,
  REPLY_TOPIC_HEADER,
  REQUEST_TOPIC_PARTITIONS,
  topicNames,
} from '../../gateway/protocol/topics.js';

export type RequestDraft = Pick<LookupRequestEnvelope, 'certificateType' | 'subject'> &
  Partial<LookupRequestEnvelope>;

export interface LookupRequester {
  readonly replyTopic: string;
  /** Every reply received, in arrival order. */
  readonly replies: IncomingMessage[];
  start(): Promise<void>;
  /** A complete request envelope from a draft: fresh lookup id, a deadline `timeoutMs` from now. */
  envelope(draft: RequestDraft, timeoutMs?: number): LookupRequestEnvelope;
  /** Publishes a request and resolves with its reply; rejects if none arrives within `timeoutMs`. */
  lookup(department: string, draft: RequestDraft, timeoutMs?: number): Promise<LookupReplyEnvelope>;
  /** Publishes a request as given (headers included) without waiting for anything. */
  send(department: string, value: string, headers?: BusHeaders, key?: string): Promise<void>;
  stop(): Promise<void>;
}

export function createLookupRequester(options: {
  bus: Bus;
  topicPrefix: string;
  instanceId?: string;
}): LookupRequester {
  const { bus } = options;
  const topics = topicNames(options.topicPrefix);
  const instanceId = options.instanceId ?? `requester-${randomUUID().slice(0, 8)}`;
  const replyTopic = topics.lookupReplies(instanceId);
  const replies: IncomingMessage[] = [];
  const waiting = new Map<string, (message: IncomingMessage) => void>();
  let subscription: Subscription | undefined;

  const envelope = (draft: RequestDraft, timeoutMs = 5000): LookupRequestEnvelope => ({
    version: 1,
    lookupId: randomUUID(),
    schemaVersion: 1,
    purpose: { matter: 'TEST-0001', caseRef: 'test-case', officer: 'test-officer' },
    requester: { department: 'test-department' },
    deadline: new Date(Date.now() + timeoutMs).toISOString(),
    ...draft,
  });

  const send = async (department: string, value: string, headers: BusHeaders = {}, key?: string) => {
    await bus.publish(topics.lookupRequests(department), [{ key, value, headers }]);
  };

  return {
    replyTopic,
    replies,
    envelope,
    send,

    async start() {
      await bus.ensureTopics([replyTopic]);
      subscription = await bus.subscribe({
        topics: [replyTopic],
        groupId: `${options.topicPrefix}.requester.${instanceId}`,
        concurrency: 16,
        handle: async (message) => {
          replies.push(message);
          const correlationId = message.headers[CORRELATION_HEADER];
          if (correlationId === undefined) return;
          waiting.get(correlationId)?.(message);
          waiting.delete(correlationId);
        },
      });
      await subscription.ready;
    },

    async lookup(department, draft, timeoutMs = 5000) {
      const request = envelope(draft, timeoutMs);
      await bus.ensureTopics([topics.lookupRequests(department)], REQUEST_TOPIC_PARTITIONS);
      const reply = new Promise<IncomingMessage>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(request.lookupId);
          reject(new Error(`no reply to lookup ${request.lookupId} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(request.lookupId, (message) => {
          clearTimeout(timer);
          resolve(message);
        });
      });
      await send(
        department,
        JSON.stringify(request),
        {
          [CORRELATION_HEADER]: request.lookupId,
          [REPLY_TOPIC_HEADER]: replyTopic,
          'content-type': 'application/json',
        },
        unkeyedSubjectKey(request.certificateType, request.subject),
      );
      return JSON.parse((await reply).value) as LookupReplyEnvelope;
    },

    async stop() {
      await subscription?.stop();
    },
  };
}
