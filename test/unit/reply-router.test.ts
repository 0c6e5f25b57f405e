/**
 * The reply router against a bus whose publishes hang or fail as a stopped broker's do: every lookup
 * answers by its deadline, nothing is left rejecting unobserved, and once the bus is known down
 * lookups are refused at once until a probe gets through.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/foundation/logger.js';
import { BUS_PROBE_INTERVAL_MS, ReplyRouter } from '../../gateway/lookups/reply-router.js';
import type { Bus, OutgoingMessage, SubscribeOptions } from '../../gateway/protocol/bus.js';
import { CORRELATION_HEADER } from '../../gateway/protocol/topics.js';

type PublishBehaviour = 'hang' | 'fail' | 'deliver';

/** A bus whose next publishes hang, fail or deliver (and then reply at once), as the test says. */
function scriptedBus() {
  let behaviour: PublishBehaviour = 'deliver';
  let handler: SubscribeOptions['handle'] | undefined;
  const published: string[] = [];
  const bus = {
    kind: 'scripted',
    async subscribe(options: SubscribeOptions) {
      handler = options.handle;
      return { ready: Promise.resolve(), isRunning: () => true, stop: async () => {} };
    },
    publish(topic: string, messages: OutgoingMessage[]) {
      const id = messages[0]?.headers?.[CORRELATION_HEADER] ?? '';
      published.push(id);
      if (behaviour === 'hang') return new Promise<void>(() => {});
      if (behaviour === 'fail') return Promise.reject(new Error('Connection error: connect ECONNREFUSED'));
      setImmediate(() =>
        handler?.({
          topic,
          partition: 0,
          offset: '0',
          key: undefined,
          value: '{}',
          headers: { [CORRELATION_HEADER]: id },
          timestamp: Date.now(),
        }),
      );
      return Promise.resolve();
    },
  } as unknown as Bus;
  return {
    bus,
    published,
    set: (next: PublishBehaviour) => {
      behaviour = next;
    },
  };
}

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

async function router() {
  const scripted = scriptedBus();
  const replies = new ReplyRouter(scripted.bus, 'replies', 'group', createLogger('silent'));
  await replies.start();
  let next = 0;
  const ask = (deadlineMs: number) => {
    const startedAt = performance.now();
    return replies
      .request({
        topic: 'requests',
        correlationId: `lookup-${++next}`,
        key: 'k',
        value: '{}',
        deadline: Date.now() + deadlineMs,
      })
      .then(
        () => ({ status: 200, ms: performance.now() - startedAt }),
        (error: { status: number; type: string }) => ({
          status: error.status,
          type: error.type,
          ms: performance.now() - startedAt,
        }),
      );
  };
  return { ...scripted, replies, ask };
}

describe('the reply router when the bus fails', () => {
  it('answers 504 at the deadline while the publish still hangs, and leaves no unhandled rejection', async () => {
    const { set, ask } = await router();
    set('hang');
    const answer = await ask(200);
    expect(answer).toMatchObject({ status: 504 });
    expect(answer.ms).toBeGreaterThanOrEqual(190);
    expect(answer.ms).toBeLessThan(400);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
  });

  it('refuses lookups at once once a publish failed, probes once a second, and resumes when a probe gets through', async () => {
    const { set, ask, published, replies } = await router();
    expect(await ask(1000)).toMatchObject({ status: 200 });

    set('fail');
    expect(await ask(1000)).toMatchObject({ status: 503, type: expect.stringMatching(/bus-unavailable$/) });
    expect(replies.busOutage?.reason).toMatch(/ECONNREFUSED/);
    const sent = published.length;
    const refused = await Promise.all([ask(1000), ask(1000), ask(1000)]);
    for (const answer of refused) {
      expect(answer).toMatchObject({ status: 503, type: expect.stringMatching(/bus-unavailable$/) });
      // At once: well before the 1,000 ms deadline (with room for a busy machine's pauses).
      expect(answer.ms).toBeLessThan(500);
    }
    expect(published.length).toBe(sent);

    // The broker is back: within a probe interval, one lookup goes out and puts the bus back.
    set('deliver');
    await new Promise((resolve) => setTimeout(resolve, BUS_PROBE_INTERVAL_MS + 50));
    expect(await ask(1000)).toMatchObject({ status: 200 });
    expect(replies.busOutage).toBeUndefined();
    expect(await ask(1000)).toMatchObject({ status: 200 });
    expect(unhandled).toEqual([]);
  });

  it('takes a publish not done by its deadline as the bus being down', async () => {
    const { set, ask, replies } = await router();
    set('hang');
    expect(await ask(100)).toMatchObject({ status: 504 });
    expect(replies.busOutage?.reason).toMatch(/not delivered to the bus within its 100 ms deadline/);
    const refused = await ask(1000);
    expect(refused).toMatchObject({ status: 503 });
    expect(refused.ms).toBeLessThan(500);
  });

  it('does not stay down because the probe hung: the next probe goes out a second later', async () => {
    const { set, ask, published } = await router();
    set('hang');
    await ask(100);
    await new Promise((resolve) => setTimeout(resolve, BUS_PROBE_INTERVAL_MS + 20));
    const probe = ask(100);
    expect(await probe).toMatchObject({ status: 504 });
    set('deliver');
    await new Promise((resolve) => setTimeout(resolve, BUS_PROBE_INTERVAL_MS + 20));
    expect(await ask(1000)).toMatchObject({ status: 200 });
    expect(published.length).toBe(3);
  });
});
