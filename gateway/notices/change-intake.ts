/**
 * Takes in the change events departments publish on `<prefix>.record-changes.<department>`, in the one
 * consumer group every gateway instance shares (each event is matched once, by whichever instance
 * holds its partition). An event is used only if it is well-formed, speaks for the department whose
 * topic it is on, concerns a certificate type that department provides, and carries that department's
 * valid signature; anything else goes to the dead-letter topic with the reason. A usable event is
 * stored with one pending delivery per matching subscription in one transaction before its offset is
 * committed, so a gateway that dies mid-way takes it in again (and adds nothing twice).
 */
import { publishDeadLetter } from '../../connectors/runtime/dead-letters.js';
import type { SubjectHasher } from '../audit/subject-hash.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import type { Logger } from '../foundation/logger.js';
import { type ProviderSignatures, SignatureRefusal } from '../lookups/provider-signatures.js';
import type { Bus, IncomingMessage, Subscription } from '../protocol/bus.js';
import type { RecordChangeEnvelope } from '../protocol/envelopes.js';
import { CHANGE_TOPIC_PARTITIONS, CHANGE_TOPIC_RETENTION_MS, type TopicNames } from '../protocol/topics.js';
import type { NoticeStore } from './notice-store.js';

export interface ChangeIntakeOptions {
  bus: Bus;
  topics: TopicNames;
  store: Pick<NoticeStore, 'takeInChange'>;
  catalog: Pick<SchemaCatalog, 'validateEnvelope' | 'get'>;
  signatures: Pick<ProviderSignatures, 'verifyChange'>;
  hashSubject: SubjectHasher;
  /** Departments whose change topics to read: those with a registered connector. */
  departments: () => Promise<string[]>;
  /** Called when an event added deliveries. */
  onDeliveries: () => void;
  logger: Logger;
  /** How often the department list is read again (a new registration). Default 30 s. */
  refreshIntervalMs?: number;
}

export interface ChangeIntake {
  /** Resolves once the group member is consuming (readiness). */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

/** Why an event cannot be used: the message is safe to log and to put in the dead letter's header. */
class UnusableChange extends Error {}

export async function startChangeIntake(options: ChangeIntakeOptions): Promise<ChangeIntake> {
  const { bus, topics, store, catalog, signatures, hashSubject, logger } = options;
  const refreshIntervalMs = options.refreshIntervalMs ?? 30_000;
  let subscription: Subscription | undefined;
  let subscribed: string[] = [];
  let stopped = false;

  /** Checks the event; resolves with it and the key that signed it, or rejects with UnusableChange. */
  async function usable(message: IncomingMessage): Promise<{ event: RecordChangeEnvelope; keyId: string }> {
    const department = message.topic.slice(topics.recordChanges('').length);
    let value: unknown;
    try {
      value = JSON.parse(message.value);
    } catch {
      throw new UnusableChange('the change event is not JSON');
    }
    const shape = catalog.validateEnvelope('record-change', value);
    if (!shape.ok) {
      throw new UnusableChange(
        `the change event is not valid: ${shape.errors.map((e) => `${e.pointer} ${e.reason}`).join('; ')}`,
      );
    }
    const event = value as RecordChangeEnvelope;
    if (event.department !== department) {
      throw new UnusableChange(
        `a change event of department '${event.department}' on department '${department}'s topic`,
      );
    }
    const provider = catalog.get(event.certificateType)?.provider;
    if (provider !== department) {
      throw new UnusableChange(
        provider
          ? `department '${department}' does not provide ${event.certificateType} records ('${provider}' does)`
          : `there is no certificate type '${event.certificateType}'`,
      );
    }
    try {
      return { event, keyId: await signatures.verifyChange(event as unknown as Record<string, unknown>) };
    } catch (error) {
      if (error instanceof SignatureRefusal) throw new UnusableChange(`signature: ${error.message}`);
      throw error;
    }
  }

  async function handle(message: IncomingMessage): Promise<void> {
    let checked: { event: RecordChangeEnvelope; keyId: string };
    try {
      checked = await usable(message);
    } catch (error) {
      if (!(error instanceof UnusableChange)) throw error;
      // The department fixes its connector from the dead letter; the event itself is of no use.
      await publishDeadLetter(bus, topics.deadLetters, message, error.message, logger).catch(
        (failed: unknown) => logger.error({ err: failed }, 'could not publish to the dead-letter topic'),
      );
      return;
    }
    const { event, keyId } = checked;
    // The database may be away for a while: keep this event (and its partition) until it is stored.
    for (let waitMs = 500; ; waitMs = Math.min(waitMs * 2, 30_000)) {
      try {
        const added = await store.takeInChange(event, hashSubject(event.subject), keyId);
        logger.info(
          { changeId: event.changeId, department: event.department, change: event.change, deliveries: added },
          'change event taken in',
        );
        if (added > 0) options.onDeliveries();
        return;
      } catch (error) {
        if (stopped) throw error;
        logger.error(
          { err: error, changeId: event.changeId, waitMs },
          'cannot store a change event; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  async function subscribe(departments: string[]): Promise<void> {
    const changeTopics = departments.map((department) => topics.recordChanges(department));
    await bus.ensureTopics(changeTopics, CHANGE_TOPIC_PARTITIONS, { retentionMs: CHANGE_TOPIC_RETENTION_MS });
    await subscription?.stop();
    subscription = undefined;
    subscribed = departments;
    if (changeTopics.length === 0) return;
    subscription = await bus.subscribe({
      topics: changeTopics,
      groupId: topics.recordChangesGroup,
      // A change published before any gateway ever read this topic still reaches its subscribers.
      fromBeginning: true,
      concurrency: CHANGE_TOPIC_PARTITIONS,
      handle,
    });
  }

  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  await subscribe([...new Set(await options.departments())].sort());
  const refresh = setInterval(() => {
    void (async () => {
      const departments = [...new Set(await options.departments())].sort();
      if (!stopped && !same(departments, subscribed)) {
        logger.info({ departments }, 'reading the change topics of newly registered departments');
        await subscribe(departments);
      }
    })().catch((error: unknown) => logger.warn({ err: error }, 'cannot refresh the change topics'));
  }, refreshIntervalMs);
  refresh.unref();

  return {
    ready: async () => {
      await subscription?.ready;
    },
    async stop() {
      stopped = true;
      clearInterval(refresh);
      await subscription?.stop();
    },
  };
}
