/** Topic and consumer group names of the wire protocol (docs/protocol.md), under one configurable prefix. */
import type { Bus } from './bus.js';

export interface TopicNames {
  lookupRequests(department: string): string;
  lookupReplies(gatewayInstanceId: string): string;
  /** Where a provider department's connector publishes changes of records it holds (docs/protocol.md 15). */
  recordChanges(department: string): string;
  heartbeats: string;
  deadLetters: string;
  /** Every signed audit checkpoint, for departments to keep (docs/audit.md, "Copies outside the database"). */
  auditCheckpoints: string;
  /** The consumer group every connector instance of a department shares. */
  connectorGroup(department: string): string;
  /** The consumer groups of one gateway instance start with this (its replies, its heartbeats, ...). */
  gatewayGroups(gatewayInstanceId: string): string;
  /** The one group all gateway instances share to take in change events: each event is matched once. */
  recordChangesGroup: string;
}

export function topicNames(prefix: string): TopicNames {
  return {
    lookupRequests: (department) => `${prefix}.lookup-requests.${department}`,
    lookupReplies: (instanceId) => `${prefix}.lookup-replies.${instanceId}`,
    recordChanges: (department) => `${prefix}.record-changes.${department}`,
    heartbeats: `${prefix}.heartbeats`,
    deadLetters: `${prefix}.dead-letters`,
    auditCheckpoints: `${prefix}.audit-checkpoints`,
    connectorGroup: (department) => `${prefix}.connector.${department}`,
    gatewayGroups: (instanceId) => `${prefix}.gateway.${instanceId}`,
    recordChangesGroup: `${prefix}.gateways.record-changes`,
  };
}

/** Spring Kafka's header names, so a department can answer with `@SendTo` or plain kafka-clients. */
export const CORRELATION_HEADER = 'kafka_correlationId';
export const REPLY_TOPIC_HEADER = 'kafka_replyTopic';
export const DEAD_LETTER_REASON_HEADER = 'silobridge_dead_letter_reason';

/** Partitions of a department's request topic: the most connector instances that can share its load. */
export const REQUEST_TOPIC_PARTITIONS = 6;

/**
 * Request topics hold citizens' identifiers in clear, and a request is worthless after its deadline
 * (seconds): keep them an hour by default, enough to debug (SILOBRIDGE_REQUEST_TOPIC_RETENTION_MS).
 */
export const REQUEST_TOPIC_RETENTION_MS = 60 * 60_000;

/** Partitions of a department's change topic: changes are few, and one gateway can take them all. */
export const CHANGE_TOPIC_PARTITIONS = 3;

/**
 * Change events wait in Kafka until a gateway has matched them against subscriptions (then they live
 * on as deliveries in the database): a week covers any outage of every gateway.
 */
export const CHANGE_TOPIC_RETENTION_MS = 7 * 24 * 60 * 60_000;

/** Dead letters wait for the department to fix its connector: keep them a month. */
const DEAD_LETTER_RETENTION_MS = 30 * 24 * 60 * 60_000;

/**
 * Creates the topics gateways and connectors share, if missing, with the same settings whoever starts
 * first: heartbeats compacted per connector instance (the topic holds each one's current state), dead
 * letters kept a month, and the given departments' request topics. Gateways create request topics
 * when a connector registers, with the configured retention (`requestRetentionMs`, applied to existing
 * topics too); a connector only checks its own exists.
 */
export async function ensureSharedTopics(
  bus: Bus,
  topics: TopicNames,
  departments: string[],
  requestRetentionMs?: number,
): Promise<void> {
  await bus.ensureTopics([topics.heartbeats], 1, { compacted: true });
  await bus.ensureTopics([topics.deadLetters], 1, { retentionMs: DEAD_LETTER_RETENTION_MS });
  if (departments.length === 0) return;
  await bus.ensureTopics(
    departments.map((department) => topics.lookupRequests(department)),
    REQUEST_TOPIC_PARTITIONS,
    requestRetentionMs === undefined
      ? { retentionMs: REQUEST_TOPIC_RETENTION_MS }
      : { retentionMs: requestRetentionMs, applyToExisting: true },
  );
  await bus.ensureTopics(
    departments.map((department) => topics.recordChanges(department)),
    CHANGE_TOPIC_PARTITIONS,
    { retentionMs: CHANGE_TOPIC_RETENTION_MS },
  );
}

/**
 * The audit checkpoint topic: one partition (readers see checkpoints in signing order), compacted and
 * keyed by sequence, so every checkpoint is kept for good (each key is unique) while a checkpoint
 * published twice (after a crash, or by two instances) is eventually kept once. Only gateways make it.
 */
export async function ensureCheckpointTopic(bus: Bus, topics: TopicNames): Promise<void> {
  await bus.ensureTopics([topics.auditCheckpoints], 1, { compacted: true });
}
