/**
 * Which department connectors are alive, learnt from the heartbeat topic. A connector instance is live
 * while its last heartbeat says `up` and is younger than three of its own intervals; a graceful
 * shutdown sends `down`, so lookups for its certificate types fail fast with 503 instead of waiting
 * for a timeout. Only heartbeats signed by the department they name count, so no one can announce
 * another department's connector as down (or up). The heartbeat topic is compacted by `<department>/<instanceId>`, so reading it from
 * the beginning gives every instance's last state.
 */

import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import type { Logger } from '../foundation/logger.js';
import type { Bus, Subscription } from '../protocol/bus.js';
import type { HeartbeatEnvelope } from '../protocol/envelopes.js';
import type { AnnouncedInstance } from '../registry/connector-registrations.js';
import { type ProviderSignatures, SignatureRefusal } from './provider-signatures.js';

interface InstanceState {
  heartbeat: HeartbeatEnvelope;
  /** When the heartbeat was sent, by the connector's clock but never in our future. */
  seenAt: number;
}

const LIVENESS_INTERVALS = 3;
/**
 * A gateway that has just started has not yet heard from every live connector: each announces itself
 * once per interval (5 s by default). Until then "no live connector" may be wrong, so the gateway is
 * not ready.
 */
const DEFAULT_WARM_UP_MS = 5000;
/**
 * Heartbeats are hints anyone who may write the topic can send. A claimed interval longer than this
 * is not believed (a fake `up` must not keep lookups waiting for the timeout for an hour), and one
 * department cannot flood the directory with instances.
 */
const MAX_TRUSTED_INTERVAL_MS = 60_000;
const MAX_INSTANCES_PER_DEPARTMENT = 256;
/** An instance silent (or down) this long is forgotten: restarts with new ids must not pile up. */
const FORGET_AFTER_MS = 15 * 60_000;

export class ConnectorDirectory {
  private readonly instances = new Map<string, InstanceState>();
  private subscription: Subscription | undefined;
  private listeningSince: number | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly heartbeatTopic: string,
    private readonly groupId: string,
    private readonly catalog: SchemaCatalog,
    private readonly signatures: Pick<ProviderSignatures, 'verifyHeartbeat'>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly warmUpMs = DEFAULT_WARM_UP_MS,
  ) {}

  async start(): Promise<void> {
    this.subscription = await this.bus.subscribe({
      topics: [this.heartbeatTopic],
      groupId: this.groupId,
      fromBeginning: true,
      handle: async (message) => {
        let value: unknown;
        try {
          value = JSON.parse(message.value);
        } catch {
          this.logger.warn({ offset: message.offset }, 'heartbeat is not JSON; ignored');
          return;
        }
        const verdict = this.catalog.validateEnvelope('heartbeat', value);
        if (!verdict.ok) {
          this.logger.warn({ offset: message.offset, errors: verdict.errors }, 'invalid heartbeat ignored');
          return;
        }
        try {
          await this.signatures.verifyHeartbeat(value as Record<string, unknown>);
        } catch (error) {
          if (!(error instanceof SignatureRefusal)) throw error;
          this.logger.warn(
            { offset: message.offset, reason: error.message },
            'unsigned or forged heartbeat ignored',
          );
          return;
        }
        this.record(value as HeartbeatEnvelope);
      },
    });
    // A subscription stopped before its first fetch rejects `ready`: nothing to mark then.
    this.subscription.ready.then(
      () => {
        this.listeningSince = this.now();
      },
      () => {},
    );
  }

  /** Rejects, saying why, until the directory has listened to heartbeats for a whole interval. */
  async checkWarmedUp(): Promise<void> {
    if (!this.subscription?.isRunning()) throw new Error('the heartbeat consumer is not running');
    if (this.listeningSince === undefined) throw new Error('the heartbeat consumer is joining its group');
    const left = this.listeningSince + this.warmUpMs - this.now();
    if (left > 0)
      throw new Error(`still learning which connectors are live (${Math.ceil(left / 1000)} s left)`);
  }

  record(heartbeat: HeartbeatEnvelope): void {
    const sent = Date.parse(heartbeat.sentAt);
    const key = `${heartbeat.department}/${heartbeat.instanceId}`;
    const previous = this.instances.get(key);
    const seenAt = Math.min(Number.isNaN(sent) ? 0 : sent, this.now());
    // Replays and reordering must not resurrect an instance that already said it went down.
    if (previous && previous.seenAt > seenAt) return;
    if (!previous && !this.roomFor(heartbeat.department)) {
      this.logger.warn(
        { department: heartbeat.department },
        'too many connector instances; heartbeat ignored',
      );
      return;
    }
    this.instances.set(key, { heartbeat, seenAt });
  }

  /** Makes room for a new instance of `department` by forgetting its dead ones, if it needs to. */
  private roomFor(department: string): boolean {
    const ofDepartment = [...this.instances].filter(([, state]) => state.heartbeat.department === department);
    if (ofDepartment.length < MAX_INSTANCES_PER_DEPARTMENT) return true;
    for (const [key, state] of ofDepartment) if (!this.isLive(state)) this.instances.delete(key);
    return ofDepartment.filter(([key]) => this.instances.has(key)).length < MAX_INSTANCES_PER_DEPARTMENT;
  }

  private isLive({ heartbeat, seenAt }: InstanceState): boolean {
    const interval = Math.min(heartbeat.intervalMs, MAX_TRUSTED_INTERVAL_MS);
    return heartbeat.state === 'up' && this.now() - seenAt <= LIVENESS_INTERVALS * interval;
  }

  /** Live instances of `department` that serve `certificateType`. */
  liveInstances(department: string, certificateType: string): string[] {
    const live: string[] = [];
    for (const state of this.instances.values()) {
      const { heartbeat } = state;
      if (heartbeat.department !== department || !this.isLive(state)) continue;
      if (!heartbeat.certificateTypes.some((served) => served.certificateType === certificateType)) continue;
      live.push(heartbeat.instanceId);
    }
    return live;
  }

  /** How many instances of each department are live now, for any certificate type (metrics). */
  liveCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const state of this.instances.values()) {
      if (!this.isLive(state)) continue;
      const { department } = state.heartbeat;
      counts.set(department, (counts.get(department) ?? 0) + 1);
    }
    return counts;
  }

  /** Every instance heard from in the last FORGET_AFTER_MS, with its state, for operators. */
  list(): AnnouncedInstance[] {
    for (const [key, state] of this.instances) {
      if (!this.isLive(state) && this.now() - state.seenAt > FORGET_AFTER_MS) this.instances.delete(key);
    }
    return [...this.instances.values()].map((state) => ({
      department: state.heartbeat.department,
      instanceId: state.heartbeat.instanceId,
      live: this.isLive(state),
      lastSeen: new Date(state.seenAt).toISOString(),
      certificateTypes: state.heartbeat.certificateTypes.map((served) => served.certificateType),
      ...(state.heartbeat.connectorVersion ? { connectorVersion: state.heartbeat.connectorVersion } : {}),
      ...(state.heartbeat.inFlight !== undefined ? { inFlight: state.heartbeat.inFlight } : {}),
    }));
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }
}
