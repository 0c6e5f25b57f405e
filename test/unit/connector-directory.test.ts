import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { SchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { ConnectorDirectory } from '../../gateway/lookups/connector-directory.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import type { HeartbeatEnvelope } from '../../gateway/protocol/envelopes.js';

const T0 = Date.parse('2026-11-27T08:00:00Z');

function directoryAt(clock: { now: number }) {
  // record() is what the heartbeat consumer calls once a heartbeat passed its checks; the bus, catalog
  // and signature checks are not used by it.
  return new ConnectorDirectory(
    {} as Bus,
    'heartbeats',
    'group',
    {} as SchemaCatalog,
    { verifyHeartbeat: async () => {} },
    pino({ level: 'silent' }),
    () => clock.now,
  );
}

function beat(overrides: Partial<HeartbeatEnvelope> = {}, at = T0): HeartbeatEnvelope {
  return {
    version: 1,
    department: 'civil-affairs',
    instanceId: 'ca-1',
    certificateTypes: [{ certificateType: 'marriage-certificate', schemaVersion: 1 }],
    state: 'up',
    intervalMs: 5000,
    sentAt: new Date(at).toISOString(),
    ...overrides,
  };
}

describe('connector directory', () => {
  it('counts an instance live for three of its intervals after its last heartbeat', () => {
    const clock = { now: T0 };
    const directory = directoryAt(clock);
    directory.record(beat());
    expect(directory.liveInstances('civil-affairs', 'marriage-certificate')).toEqual(['ca-1']);
    expect(directory.liveInstances('civil-affairs', 'resident-id-card')).toEqual([]);
    clock.now = T0 + 15_001;
    expect(directory.liveInstances('civil-affairs', 'marriage-certificate')).toEqual([]);
  });

  it('drops an instance at once when it says down, and a replayed older up does not bring it back', () => {
    const clock = { now: T0 + 2000 };
    const directory = directoryAt(clock);
    directory.record(beat({}, T0));
    directory.record(beat({ state: 'down' }, T0 + 1000));
    expect(directory.liveInstances('civil-affairs', 'marriage-certificate')).toEqual([]);
    directory.record(beat({}, T0));
    expect(directory.liveInstances('civil-affairs', 'marriage-certificate')).toEqual([]);
  });

  it('lists a stopped instance for a quarter of an hour, then forgets it', () => {
    const clock = { now: T0 };
    const directory = directoryAt(clock);
    directory.record(beat({ instanceId: 'ca-old' }, T0));
    directory.record(beat({ instanceId: 'ca-old', state: 'down' }, T0 + 1000));
    clock.now = T0 + 14 * 60_000;
    expect(directory.list().map((instance) => [instance.instanceId, instance.live])).toEqual([
      ['ca-old', false],
    ]);
    clock.now = T0 + 16 * 60_000;
    directory.record(beat({ instanceId: 'ca-new' }, clock.now));
    expect(directory.list().map((instance) => instance.instanceId)).toEqual(['ca-new']);
  });

  it('does not believe a claimed interval of an hour', () => {
    const clock = { now: T0 };
    const directory = directoryAt(clock);
    directory.record(beat({ intervalMs: 3_600_000 }));
    clock.now = T0 + 3 * 60_000 + 1;
    expect(directory.liveInstances('civil-affairs', 'marriage-certificate')).toEqual([]);
  });

  it('keeps one department from flooding it with instances, making room by forgetting dead ones', () => {
    const clock = { now: T0 };
    const directory = directoryAt(clock);
    for (let i = 0; i < 300; i++) directory.record(beat({ instanceId: `fake-${i}` }));
    expect(directory.list()).toHaveLength(256);
    clock.now = T0 + 60_000;
    directory.record(beat({ instanceId: 'real-1' }, clock.now));
    expect(directory.liveInstances('civil-affairs', 'marriage-certificate')).toEqual(['real-1']);
  });
});
