/** Topic names of the wire protocol (docs/protocol.md), all under one configurable prefix. */

export interface TopicNames {
  lookupRequests(department: string): string;
  lookupReplies(gatewayInstanceId: string): string;
  heartbeats: string;
  deadLetters: string;
}

export function topicNames(prefix: string): TopicNames {
  return {
    lookupRequests: (department) => `${prefix}.lookup-requests.${department}`,
    lookupReplies: (instanceId) => `${prefix}.lookup-replies.${instanceId}`,
    heartbeats: `${prefix}.heartbeats`,
    deadLetters: `${prefix}.dead-letters`,
  };
}

/** Spring Kafka's header names, so a department can answer with `@SendTo` or plain kafka-clients. */
export const CORRELATION_HEADER = 'kafka_correlationId';
export const REPLY_TOPIC_HEADER = 'kafka_replyTopic';
export const DEAD_LETTER_REASON_HEADER = 'silobridge_dead_letter_reason';

/** Partitions of a department's request topic: the most connector instances that can share its load. */
export const REQUEST_TOPIC_PARTITIONS = 6;
