/**
 * Fault drill: a department's connector killed (SIGKILL) under load, on real Kafka. A gateway
 * in-process on PostgreSQL; `silobridge connector` processes for public-security (resident ID cards,
 * the victim: `--config` with an HTTP source that answers after SLOW_MS, so that a kill catches
 * lookups inside the connector) and market-regulation (business licences, the bystander: the sample
 * connector); callers of both in a loop.
 *
 * 1. The only public-security instance is killed: lookups in flight and those sent while the gateway
 *    still believes it alive answer 504 by their deadline; once its heartbeat is over three intervals
 *    old, 503 `no-live-connector` at once; business licences keep answering 200, fast. A new instance
 *    is started: time until resident ID cards answer 200 again.
 * 2. That instance is killed and a new one started at once (a supervisor restarting it): the newcomer
 *    must wait for the coordinator to evict the dead member (session timeout, 6 s): time it.
 * 3. Two instances, one killed: the survivor takes over the dead one's partitions: time it.
 *
 * Throughout, no caller gets a reply that is not its own: every 200's record is the seed record of the
 * subject asked for, and no lookup id comes back twice. Measured times are printed; bounds are generous.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { RunningGateway } from '../../gateway/gateway.js';
import { topicNames } from '../../gateway/protocol/topics.js';
import { type ConnectorProcess, startConnectorProcess } from '../support/connector-process.js';
import { type GroupWatcher, watchConsumerGroup } from '../support/consumer-group.js';
import { demoToken } from '../support/gateway-auth.js';
import { lookupBody } from '../support/lookup-fixtures.js';
import { type LookupSample, percentile, runLoad } from '../support/lookup-load.js';
import { type SlowDepartment, startSlowDepartment } from '../support/slow-department.js';
import {
  announcedInstances,
  createTestGatewayEnvironment,
  OPERATOR,
  type TestClient,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const DEADLINE_MS = 5000;
/** Scheduling on a busy 2-core CI machine: an answer may come this much after its deadline. */
const SLACK_MS = 750;
/** How long the victim department's own system takes per lookup. */
const SLOW_MS = 400;
/**
 * The victim's heartbeat interval (default: the connector's own, 5 s): the gateway believes an
 * instance alive for three of them, so this decides how long lookups wait out their deadline before
 * 503. Set FAULT_CONNECTOR_HEARTBEAT_MS to measure another.
 */
const HEARTBEAT_MS = process.env.FAULT_CONNECTOR_HEARTBEAT_MS
  ? Number(process.env.FAULT_CONNECTOR_HEARTBEAT_MS)
  : undefined;
const VICTIM = { department: 'public-security', type: 'resident-id-card' };
const BYSTANDER = { department: 'market-regulation', type: 'business-licence' };
const prefix = `kill-${randomBytes(4).toString('hex')}`;
const brokers = inject('kafkaBrokers').split(',');

let env: TestGatewayEnvironment;
let gateway: RunningGateway;
let api: TestClient;
let operator: TestClient;
let group: GroupWatcher;
let slow: SlowDepartment;
let token: { value: string; at: number } | undefined;
const processes: ConnectorProcess[] = [];

function startConnector(department: string, instanceId: string): ConnectorProcess {
  const kafka = { KAFKA_BROKERS: brokers.join(','), SILOBRIDGE_TOPIC_PREFIX: prefix };
  const started =
    department === VICTIM.department
      ? slow.start(instanceId, kafka)
      : startConnectorProcess({ department, instanceId, dataDir: env.dataDir, env: kafka });
  processes.push(started);
  return started;
}

const outputs = () => processes.map((p) => `--- ${p.instanceId}\n${p.output().slice(-2000)}`).join('\n');

async function currentToken(): Promise<string> {
  if (!token || performance.now() - token.at > 120_000)
    token = { value: await demoToken(env.dataDir), at: performance.now() };
  return token.value;
}

async function waitForAnswer(type: string, timeout = 60_000) {
  await vi.waitFor(
    async () => {
      const { status, body } = await api.post('/v1/lookups', lookupBody(type));
      expect(status, JSON.stringify(body) + outputs()).toBe(200);
    },
    { timeout, interval: 200 },
  );
}

async function waitForLive(instanceId: string) {
  await vi.waitFor(
    async () => {
      const { body } = await operator.get('/v1/connectors');
      expect(announcedInstances(body), outputs()).toContainEqual(
        expect.objectContaining({ instanceId, live: true }),
      );
    },
    { timeout: 30_000, interval: 100 },
  );
}

/** Polls the coordinator until `done` holds for the group; resolves with the ms since `since`. */
async function timeGroupUntil(
  done: (view: Awaited<ReturnType<GroupWatcher['describe']>>) => boolean,
  since: number,
  timeout = 60_000,
): Promise<number> {
  return vi.waitFor(
    async () => {
      const view = await group.describe();
      expect(done(view), JSON.stringify(view)).toBe(true);
      return performance.now() - since;
    },
    { timeout, interval: 100 },
  );
}

/** Samples of `type` whose answer came in `[from, to)` (performance.now() times). */
const answeredBetween = (samples: LookupSample[], type: string, from: number, to = Infinity) =>
  samples.filter((s) => s.certificateType === type && s.sentAt + s.ms >= from && s.sentAt + s.ms < to);

async function droppedReplies(): Promise<string> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('silobridge_lookup_replies_dropped_total{'))
    .join(', ');
}

/** Starts callers: three for the victim's type, two for the bystander's, a short pause between calls. */
function startLoad() {
  let running = true;
  const samples: LookupSample[] = [];
  const done = runLoad({
    url: gateway.url,
    token: currentToken,
    callers: [VICTIM.type, VICTIM.type, VICTIM.type, BYSTANDER.type, BYSTANDER.type],
    running: () => running,
    pauseMs: () => 50,
    onSample: (sample) => samples.push(sample),
  });
  return {
    samples,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

function checkBystanderAndReplies(samples: LookupSample[]) {
  const bystander = samples.filter((s) => s.certificateType === BYSTANDER.type);
  expect(bystander.length).toBeGreaterThan(20);
  expect(bystander.filter((s) => s.status !== 200).map((s) => `${s.status} ${s.problem}`)).toEqual([]);
  const ms = bystander.map((s) => s.ms);
  console.info(
    `[fault-connector-kill] ${BYSTANDER.type} meanwhile: ${bystander.length} lookups, all 200, p50 ${Math.round(percentile(ms, 50))} ms, p95 ${Math.round(percentile(ms, 95))} ms, max ${Math.round(Math.max(...ms))} ms`,
  );
  expect(percentile(ms, 95)).toBeLessThan(1000);
  expect(Math.max(...ms)).toBeLessThan(3000);
  // Every 200 is the record asked for, and each lookup id reached one caller once.
  expect(samples.filter((s) => s.mismatch).map((s) => s.mismatch)).toEqual([]);
  // Nothing is held past its deadline.
  const late = samples.filter((s) => s.ms > DEADLINE_MS + SLACK_MS);
  expect(late.map((s) => `${s.certificateType} ${s.status} ${Math.round(s.ms)} ms`)).toEqual([]);
}

/** `min-max` of the samples' durations, for the log. */
const range = (samples: LookupSample[]) =>
  samples.length === 0
    ? 'none'
    : `${Math.round(Math.min(...samples.map((s) => s.ms)))}-${Math.round(Math.max(...samples.map((s) => s.ms)))}`;

const victimGroup = () => topicNames(prefix).connectorGroup(VICTIM.department);

beforeAll(async () => {
  env = await createTestGatewayEnvironment(prefix);
  gateway = await env.start(`${prefix}-gw`, { SILOBRIDGE_LOOKUP_TIMEOUT_MS: String(DEADLINE_MS) });
  api = await env.client(gateway);
  operator = await env.client(gateway, OPERATOR);
  group = await watchConsumerGroup(brokers, victimGroup());
  slow = await startSlowDepartment(env.dataDir, SLOW_MS, HEARTBEAT_MS);
  startConnector(BYSTANDER.department, 'mr-1');
  await waitForAnswer(BYSTANDER.type);
}, 120_000);

afterAll(async () => {
  for (const started of processes) await started.stop(2000);
  await group?.close();
  await slow?.close();
  await env?.cleanup();
});

describe("a department's connector killed under load", () => {
  it('its only instance: 504 by the deadline, then 503 at once; others unaffected; a new instance takes over', async () => {
    const first = startConnector(VICTIM.department, 'ps-1');
    await waitForAnswer(VICTIM.type);
    const load = startLoad();
    await delay(3000);

    // 1. Kill the only instance; keep calling until the gateway has given up on it.
    const killedAt = performance.now();
    first.child.kill('SIGKILL');
    const noticedMs = await vi.waitFor(
      () => {
        const refused = answeredBetween(load.samples, VICTIM.type, killedAt).find(
          (s) => s.problem === 'no-live-connector',
        );
        expect(refused, outputs()).toBeDefined();
        return (refused as LookupSample).sentAt - killedAt;
      },
      { timeout: 40_000, interval: 100 },
    );
    const restartedAt = performance.now();
    startConnector(VICTIM.department, 'ps-2');
    const backMs = await vi.waitFor(
      () => {
        const ok = load.samples.find(
          (s) => s.certificateType === VICTIM.type && s.sentAt > killedAt && s.status === 200,
        );
        expect(ok, outputs()).toBeDefined();
        return (ok as LookupSample).sentAt + (ok as LookupSample).ms - restartedAt;
      },
      { timeout: 60_000, interval: 100 },
    );
    await delay(2000);

    // 2. Kill it and start another at once.
    const [survivor] = (await group.describe()).members;
    const dead = survivor?.memberId;
    const killed2At = performance.now();
    processes.at(-1)?.child.kill('SIGKILL');
    startConnector(VICTIM.department, 'ps-3');
    const rejoinMs = await timeGroupUntil(
      (view) =>
        view.state === 'Stable' &&
        view.members.length === 1 &&
        view.members[0]?.memberId !== dead &&
        view.members[0]?.partitions.length === 6,
      killed2At,
    );
    const back2Ms = await vi.waitFor(
      () => {
        const ok = load.samples.find(
          (s) => s.certificateType === VICTIM.type && s.sentAt > killed2At && s.status === 200,
        );
        expect(ok, outputs()).toBeDefined();
        return (ok as LookupSample).sentAt + (ok as LookupSample).ms - killed2At;
      },
      { timeout: 60_000, interval: 100 },
    );
    await delay(3000);
    await load.stop();

    const between = load.samples.filter(
      (s) => s.certificateType === VICTIM.type && s.sentAt > killedAt && s.sentAt + s.ms < restartedAt,
    );
    const inFlight = load.samples.filter(
      (s) => s.certificateType === VICTIM.type && s.sentAt < killedAt && s.sentAt + s.ms > killedAt,
    );
    const timedOut = between.filter((s) => s.status === 504);
    const refused = between.filter((s) => s.status === 503);
    console.info(
      `[fault-connector-kill] only instance killed: of ${inFlight.length} lookups in flight, ${inFlight.filter((s) => s.status === 504).length} answered 504 (at ${inFlight.map((s) => Math.round(s.ms)).join(', ')} ms; a 200 had its reply sent before the kill); ` +
        `then ${timedOut.length} x 504 (${range(timedOut)} ms) until the first 503 no-live-connector for a lookup sent ${Math.round(noticedMs)} ms after the kill, ` +
        `then ${refused.length} x 503 (max ${Math.round(Math.max(...refused.map((s) => s.ms)))} ms)`,
    );
    console.info(
      `[fault-connector-kill] new instance started after that: first 200 ${Math.round(backMs)} ms after its start`,
    );
    console.info(
      `[fault-connector-kill] killed and restarted at once: the coordinator gave the newcomer all 6 partitions ${Math.round(rejoinMs)} ms after the kill; first 200 for a lookup sent after the kill ${Math.round(back2Ms)} ms after the kill`,
    );
    console.info(`[fault-connector-kill] replies dropped by the gateway: ${await droppedReplies()}`);

    for (const sample of inFlight) expect([200, 504]).toContain(sample.status);
    expect(inFlight.filter((s) => s.status === 504).length).toBeGreaterThan(0);
    expect(between.every((s) => s.status === 504 || s.status === 503)).toBe(true);
    for (const sample of refused) {
      expect(sample.problem).toBe('no-live-connector');
      expect(sample.ms).toBeLessThan(500);
    }
    // Three heartbeat intervals (15 s) after the last heartbeat, plus a lookup timeout.
    expect(noticedMs).toBeLessThan(3 * (HEARTBEAT_MS ?? 5000) + 10_000);
    expect(backMs).toBeLessThan(15_000);
    // The session timeout (6 s) plus a rebalance: well under the ~25 s the issue reported.
    expect(rejoinMs).toBeLessThan(12_000);
    expect(back2Ms).toBeLessThan(15_000);
    checkBystanderAndReplies(load.samples);
  }, 240_000);

  it('one of two instances: the survivor takes its partitions over', async () => {
    // Leave the group empty first: the last instance of the test before says down and leaves.
    await processes.at(-1)?.stop();
    startConnector(VICTIM.department, 'ps-a');
    await waitForLive('ps-a');
    startConnector(VICTIM.department, 'ps-b');
    await waitForLive('ps-b');
    await timeGroupUntil(
      (view) =>
        view.state === 'Stable' &&
        view.members.length === 2 &&
        view.members.every((member) => member.partitions.length === 3),
      performance.now(),
    );
    await waitForAnswer(VICTIM.type);
    const before = (await group.describe()).members.map((member) => member.memberId);
    const load = startLoad();
    await delay(3000);

    const killedAt = performance.now();
    processes.find((p) => p.instanceId === 'ps-a')?.child.kill('SIGKILL');
    const takeoverMs = await timeGroupUntil(
      (view) =>
        view.state === 'Stable' &&
        view.members.length === 1 &&
        before.includes(view.members[0]?.memberId ?? '') &&
        view.members[0]?.partitions.length === 6,
      killedAt,
    );
    await delay(DEADLINE_MS + 3000);
    await load.stop();

    const inFlight = load.samples.filter(
      (s) => s.certificateType === VICTIM.type && s.sentAt < killedAt && s.sentAt + s.ms > killedAt,
    );
    const afterKill = load.samples.filter((s) => s.certificateType === VICTIM.type && s.sentAt > killedAt);
    const hurt = afterKill.filter((s) => s.status !== 200 || s.ms > 1000);
    const lastHurtMs = Math.max(0, ...hurt.map((s) => s.sentAt + s.ms - killedAt));
    const settled = afterKill.filter((s) => s.sentAt - killedAt > takeoverMs + 1000);
    // The same lookups before the kill, on the same machine under the same load: the baseline.
    const beforeKillMs = load.samples
      .filter((s) => s.certificateType === VICTIM.type && s.sentAt + s.ms < killedAt)
      .map((s) => s.ms);
    console.info(
      `[fault-connector-kill] one of two killed: in flight ${inFlight.map((s) => `${s.status} at ${Math.round(s.ms)} ms`).join(', ')}; the survivor held all 6 partitions ${Math.round(takeoverMs)} ms after the kill; ` +
        `${hurt.filter((s) => s.status === 504).length} x 504 and ${hurt.filter((s) => s.status === 200).length} slow 200s of ${afterKill.length} lookups after the kill, ` +
        `the last of them answered ${Math.round(lastHurtMs)} ms after the kill; replies dropped: ${await droppedReplies()}`,
    );
    for (const sample of inFlight) expect([200, 504]).toContain(sample.status);
    // The survivor keeps heartbeating: the department is never "down".
    expect(afterKill.filter((s) => s.status !== 200 && s.status !== 504)).toEqual([]);
    expect(takeoverMs).toBeLessThan(12_000);
    expect(settled.length).toBeGreaterThan(10);
    expect(settled.filter((s) => s.status !== 200)).toEqual([]);
    // The survivor serves all six partitions about as fast as two instances served them: a CI run on a
    // busy machine saw a p95 of 1.2 s here against an absolute 1 s bound, so the bound is relative.
    const baselineP95 = percentile(beforeKillMs, 95);
    const settledP95 = percentile(
      settled.map((s) => s.ms),
      95,
    );
    console.info(
      `[fault-connector-kill] ${VICTIM.type} p95 before the kill ${Math.round(baselineP95)} ms (${beforeKillMs.length} lookups), after the takeover ${Math.round(settledP95)} ms (${settled.length} lookups)`,
    );
    expect(beforeKillMs.length).toBeGreaterThan(5);
    expect(settledP95).toBeLessThan(2 * baselineP95 + SLOW_MS);
    checkBystanderAndReplies(load.samples);
  }, 180_000);
});
