/**
 * Which department connectors are alive, learnt from the heartbeat topic. A connector instance is live
 * while its last heartbeat says `up` and is younger than three of its own intervals; a graceful
 * shutdown sends `down`, so lookups for its certificate types fail fast with 503 instead of waiting
 * for a timeout. The heartbeat topic is compacted by `<department>/<instanceId>`, so reading it from
 * the beginning gives every instance's last state.
 */
import type { Bus, Subscription } from '../bus/bus.js';
import type { HeartbeatEnvelope } from '../catalog/envelopes.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import type { Logger } from '../logger.js';

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

export class ConnectorDirectory {
  private readonly instances = new Map<string, InstanceState>();
  private subscription: Subscription | undefined;
  private listeningSince: number | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly heartbeatTopic: string,
    private readonly groupId: string,
    private readonly catalog: SchemaCatalog,
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
    this.instances.set(key, { heartbeat, seenAt });
  }

  /** Live instances of `department` that serve `certificateType`. */
  liveInstances(department: string, certificateType: string): string[] {
    const now = this.now();
    const live: string[] = [];
    for (const { heartbeat, seenAt } of this.instances.values()) {
      if (heartbeat.department !== department || heartbeat.state !== 'up') continue;
      if (now - seenAt > LIVENESS_INTERVALS * heartbeat.intervalMs) continue;
      if (!heartbeat.certificateTypes.some((served) => served.certificateType === certificateType)) continue;
      live.push(heartbeat.instanceId);
    }
    return live;
  }

  /** Every known instance with its state, for operators. */
  list(): Array<{
    department: string;
    instanceId: string;
    live: boolean;
    lastSeen: string;
    certificateTypes: string[];
  }> {
    const now = this.now();
    return [...this.instances.values()].map(({ heartbeat, seenAt }) => ({
      department: heartbeat.department,
      instanceId: heartbeat.instanceId,
      live: heartbeat.state === 'up' && now - seenAt <= LIVENESS_INTERVALS * heartbeat.intervalMs,
      lastSeen: new Date(seenAt).toISOString(),
      certificateTypes: heartbeat.certificateTypes.map((served) => served.certificateType),
    }));
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }
}
