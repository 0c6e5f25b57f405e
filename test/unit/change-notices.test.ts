/**
 * Change notices end to end in one process (embedded database, in-process bus, the sample connectors):
 * an administrator registers a webhook target, an approval system subscribes for an open case, the
 * market-regulation sample department revokes or amends a licence, and the approval system's real
 * HTTP server receives a notice signed by the gateway, holding only what its policy grants. Also: the
 * refusals (outside policy, unregistered target, a URL in the body, bad identifiers), retries and the
 * dead letter, the event stream with Last-Event-ID, cancellation, forged change events, and the
 * audit trail of every step. The same over real Kafka and PostgreSQL, with a gateway restart:
 * test/integration/change-notices.test.ts.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignedChangeNotice, verifyChangeNotice } from '../../gateway/notices/change-notice.js';
import { createNoticeStore } from '../../gateway/notices/notice-store.js';
import type { IncomingMessage } from '../../gateway/protocol/bus.js';
import { signChangeEvent } from '../../gateway/protocol/department-signature.js';
import { DEAD_LETTER_REASON_HEADER, topicNames } from '../../gateway/protocol/topics.js';
import type { JsonWebKeySet } from '../../gateway/signing/jws.js';
import { demoConnectorSigners } from '../support/department-keys.js';
import { type EmbeddedGateway, startEmbeddedGateway } from '../support/embedded-gateway.js';
import { demoToken, TEST_MATTER, TEST_REQUESTER } from '../support/gateway-auth.js';
import { type NoticeReceiver, readNoticeStream, startNoticeReceiver } from '../support/notice-receiver.js';

const ADMIN = 'data-office/gateway-admin';
const AUDITOR = 'data-office/audit-console';
const LICENCE = 'business-licence';
/** Seed companies whose licences are valid (connectors/samples/seed/business-licence.json). */
const COMPANY = {
  revoked: '91350100M000100Y43',
  amended: '91350203MAH44MFA0Y',
  failing: '92350104MAL620G62D',
  stream: '91350100MA0PEX014B',
  cancelled: '91350105MA238KUB23',
};
const PROBLEM = 'https://silobridge.dev/problems/';

/** The approval system may see a licence's name, status and (masked) legal representative only. */
async function writePolicies(dir: string): Promise<void> {
  const policy = {
    version: 1,
    id: 'change-notice-tests',
    title: 'Change notice tests',
    requester: { department: 'service-centre', systems: [TEST_REQUESTER] },
    validFrom: '2026-01-01',
    rateLimit: { requestsPerMinute: 10_000, burst: 1000 },
    grants: [
      {
        id: 'NOTICE-BL',
        certificateType: LICENCE,
        matters: [{ code: TEST_MATTER, name: 'Test matter' }],
        fields: ['name', 'status', 'legalRepresentative'],
        mask: { legalRepresentative: { keepStart: 1, keepEnd: 0 } },
        legalBasis: 'Test fixture: not a real grant.',
      },
    ],
  };
  await writeFile(path.join(dir, 'change-notice-tests.json'), JSON.stringify(policy, null, 2));
}

let embedded: EmbeddedGateway;
let url: string;
let receiver: NoticeReceiver;
let failing: NoticeReceiver;
let jwks: JsonWebKeySet;
const deadLetters: IncomingMessage[] = [];

async function call(method: string, route: string, body?: unknown, systemId = TEST_REQUESTER) {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: {
      Authorization: `Bearer ${await demoToken(embedded.dataDir, systemId)}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** A case reference that does not repeat the company's identifier (the audit log must not hold it). */
const caseOf = (company: string) =>
  `CASE-${Object.entries(COMPANY).find(([, code]) => code === company)?.[0] ?? 'other'}`;

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

function subscription(company: string, delivery: object, extra: object = {}) {
  return {
    certificateType: LICENCE,
    subject: { unifiedSocialCreditCode: company },
    purpose: { matter: TEST_MATTER, caseRef: caseOf(company), officer: 'officer-7' },
    endsAt: inDays(30),
    delivery,
    ...extra,
  };
}

async function auditOf(subscriptionId: string): Promise<Array<Record<string, unknown>>> {
  const { rows } = await embedded.gateway.database.query<{ event: Record<string, unknown> }>(
    "SELECT event FROM audit_events WHERE event->>'subscriptionId' = $1 ORDER BY sequence",
    [subscriptionId],
  );
  return rows.map((row) => row.event);
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

beforeAll(async () => {
  embedded = await startEmbeddedGateway({
    writePolicies,
    env: {
      SILOBRIDGE_NOTICE_RETRY_BASE_MS: '50',
      SILOBRIDGE_NOTICE_RETRY_MAX_MS: '200',
      SILOBRIDGE_NOTICE_MAX_ATTEMPTS: '3',
      SILOBRIDGE_NOTICE_TIMEOUT_MS: '2000',
    },
  });
  url = embedded.gateway.url;
  receiver = await startNoticeReceiver();
  failing = await startNoticeReceiver();
  failing.answerWith(503);
  jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as JsonWebKeySet;
  const topics = topicNames(embedded.gateway.config.topicPrefix);
  await embedded.gateway.bus.subscribe({
    topics: [topics.deadLetters],
    groupId: 'change-notice-test-dead-letters',
    handle: async (message) => {
      deadLetters.push(message);
    },
  });
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await failing?.close();
  await embedded?.close();
});

describe('webhook targets', () => {
  it('are registered by an administrator only, by name, with a URL checked for what the gateway will call', async () => {
    const route = `/v1/systems/${TEST_REQUESTER}/webhook-targets/case-system`;
    expect((await call('PUT', route, { url: receiver.url }, ADMIN)).status).toBe(201);
    expect((await call('PUT', route, { url: receiver.url }, ADMIN)).status).toBe(200);
    expect(
      (await call('PUT', `/v1/systems/${TEST_REQUESTER}/webhook-targets/flaky`, { url: failing.url }, ADMIN))
        .status,
    ).toBe(201);
    // Registered by the system itself: refused.
    const self = await call('PUT', `/v1/systems/${TEST_REQUESTER}/webhook-targets/mine`, {
      url: receiver.url,
    });
    expect(self.status).toBe(403);
    for (const [body, reason] of [
      [{ url: 'ftp://example.org/x' }, 'must be http or https'],
      [{ url: 'http://user:pw@example.org/x' }, 'must not hold a user name or password'],
      [{ url: '/relative' }, 'must be an absolute URL'],
      [{ url: receiver.url, secret: 'x' }, 'is not a member of a webhook target'],
      [{ url: 'http://127.0.0.1:9/notices' }, 'must not use port 9'],
    ] as const) {
      const refused = await call('PUT', `/v1/systems/${TEST_REQUESTER}/webhook-targets/bad`, body, ADMIN);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(refused.body.errors)).toContain(reason);
    }
    const badName = await call(
      'PUT',
      `/v1/systems/${TEST_REQUESTER}/webhook-targets/Bad_Name`,
      { url: receiver.url },
      ADMIN,
    );
    expect(badName.status).toBe(400);
    const listed = await call('GET', `/v1/systems/${TEST_REQUESTER}/webhook-targets`);
    expect(listed.body.targets.map((t: { name: string }) => t.name)).toEqual(['case-system', 'flaky']);
    // The query may hold the receiver's secret: only administrators see it.
    expect(listed.body.targets[0].url).toBe(receiver.url.replace(/\?.*$/, '?…'));
    const asAdmin = await call('GET', `/v1/systems/${TEST_REQUESTER}/webhook-targets`, undefined, ADMIN);
    expect(asAdmin.body.targets[0].url).toBe(receiver.url);
  });
});

describe('subscribing', () => {
  it('is refused outside the policy (403 with the reason), for an unregistered target, a URL or bad identifiers (400)', async () => {
    const webhook = { method: 'webhook', target: 'case-system' };
    const cases: Array<[object, number, string]> = [
      [
        {
          ...subscription(COMPANY.revoked, webhook),
          certificateType: 'resident-id-card',
          subject: { residentIdNumber: '35010219850101123X' },
        },
        403,
        'type-not-allowed',
      ],
      [
        subscription(COMPANY.revoked, webhook, {
          purpose: { matter: 'OTHER-0001', caseRef: 'C-1', officer: 'o' },
        }),
        403,
        'matter-not-allowed',
      ],
      [
        subscription(COMPANY.revoked, webhook, { fields: ['registeredCapitalYuan'] }),
        403,
        'field-not-allowed',
      ],
      [
        subscription(COMPANY.revoked, { method: 'webhook', target: 'nowhere' }),
        400,
        'webhook-target-not-registered',
      ],
      [
        subscription(COMPANY.revoked, {
          method: 'webhook',
          target: 'case-system',
          url: 'http://169.254.169.254/',
        }),
        400,
        'invalid-request',
      ],
      [
        subscription(COMPANY.revoked, { method: 'webhook', url: 'http://127.0.0.1:9/' }),
        400,
        'invalid-request',
      ],
      [subscription('91350100M000100Y44', webhook), 400, 'invalid-subject'],
      [subscription(COMPANY.revoked, webhook, { endsAt: '2020-01-01T00:00:00Z' }), 400, 'invalid-request'],
      [subscription(COMPANY.revoked, webhook, { endsAt: inDays(400) }), 400, 'invalid-request'],
      [
        subscription(COMPANY.revoked, webhook, { certificateType: 'no-such-type' }),
        400,
        'unknown-certificate-type',
      ],
    ];
    for (const [body, status, type] of cases) {
      const answer = await call('POST', '/v1/subscriptions', body);
      expect(answer.status, JSON.stringify(body)).toBe(status);
      if (status === 403) expect(answer.body.reason).toBe(type);
      else expect(answer.body.type).toBe(`${PROBLEM}${type}`);
    }
    // Data officers have no lookup role: no subscriptions either.
    expect(
      (await call('POST', '/v1/subscriptions', subscription(COMPANY.revoked, webhook), AUDITOR)).status,
    ).toBe(403);
  });
});

describe('a revocation reaches the subscribed approval system', () => {
  let subscriptionId: string;

  it('as a notice signed by the gateway, naming the record and only the fields the policy grants', async () => {
    const created = await call(
      'POST',
      '/v1/subscriptions',
      subscription(COMPANY.revoked, { method: 'webhook', target: 'case-system' }),
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      state: 'open',
      provider: 'market-regulation',
      certificateType: LICENCE,
    });
    expect(created.body).not.toHaveProperty('subjectHashes');
    subscriptionId = created.body.id;

    const published = await call(
      'POST',
      '/v1/sample-connectors/changes',
      { certificateType: LICENCE, subject: { unifiedSocialCreditCode: COMPANY.revoked }, change: 'revoked' },
      ADMIN,
    );
    expect(published.status).toBe(202);
    expect(published.body).toMatchObject({ change: 'revoked', department: 'market-regulation' });
    // The department's register changed: a lookup now says so.
    const lookup = await call('POST', '/v1/lookups', {
      certificateType: LICENCE,
      subject: { unifiedSocialCreditCode: COMPANY.revoked },
      purpose: { matter: TEST_MATTER, caseRef: 'CASE-1', officer: 'officer-7' },
    });
    expect(lookup.body.record.status).toBe('revoked');

    const [received] = await receiver.waitForDelivered(1);
    const notice = received?.notice as SignedChangeNotice;
    expect(notice).toMatchObject({
      subscriptionId,
      changeId: published.body.changeId,
      certificateType: LICENCE,
      provider: 'market-regulation',
      subject: { unifiedSocialCreditCode: COMPANY.revoked },
      change: 'revoked',
      purpose: { matter: TEST_MATTER, caseRef: caseOf(COMPANY.revoked) },
      providerKeyId: expect.stringMatching(/^market-regulation\/.+#/),
    });
    // statusChangedOn changed too, but the policy grants only name, status and legalRepresentative.
    expect(notice.fields).toEqual({ status: 'revoked' });
    expect(received?.headers['silobridge-notice-id']).toBe(notice.noticeId);
    expect(await verifyChangeNotice(notice, jwks)).toMatchObject({ changeId: published.body.changeId });
    await expect(verifyChangeNotice({ ...notice, fields: { status: 'valid' } }, jwks)).rejects.toThrow();
  });

  it('is audited: the subscription, the release before the call, and the delivery', async () => {
    const events = await until(async () => {
      const found = await auditOf(subscriptionId);
      return found.some((event) => event.outcome === 'delivered') ? found : undefined;
    }, 'the delivered audit event');
    expect(events.map((event) => `${event.kind}:${event.action ?? event.outcome}`)).toEqual([
      'subscription:created',
      'change-notice:released',
      'change-notice:delivered',
    ]);
    expect(events[1]).toMatchObject({
      channel: 'webhook',
      target: 'case-system',
      attempt: 1,
      policyId: 'change-notice-tests/NOTICE-BL',
    });
    expect(JSON.stringify(events)).not.toContain(COMPANY.revoked);
    // The data subject's report shows who was told.
    const report = await call(
      'POST',
      '/v1/audit/subjects/report',
      { subject: { unifiedSocialCreditCode: COMPANY.revoked } },
      AUDITOR,
    );
    expect(report.status).toBe(200);
    expect(
      report.body.accesses.filter((access: { kind: string }) => access.kind === 'change-notice').length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('masks an amended field as a lookup would, and withholds fields the policy does not grant', async () => {
    const created = await call(
      'POST',
      '/v1/subscriptions',
      subscription(COMPANY.amended, { method: 'webhook', target: 'case-system' }),
    );
    expect(created.status).toBe(201);
    const before = receiver.received.length;
    const published = await call(
      'POST',
      '/v1/sample-connectors/changes',
      {
        certificateType: LICENCE,
        subject: { unifiedSocialCreditCode: COMPANY.amended },
        change: 'amended',
        fields: { legalRepresentative: '王小明', registeredCapitalYuan: 9_000_000 },
      },
      ADMIN,
    );
    expect(published.status).toBe(202);
    const delivered = await receiver.waitForDelivered(before + 1);
    const notice = delivered.at(-1)?.notice as SignedChangeNotice;
    expect(notice.change).toBe('amended');
    expect(notice.fields).toEqual({ legalRepresentative: '王**' });
  });
});

describe('a failing webhook target', () => {
  it('is retried with backoff, then the notice is dead-lettered; every attempt is audited', async () => {
    const created = await call(
      'POST',
      '/v1/subscriptions',
      subscription(COMPANY.failing, { method: 'webhook', target: 'flaky' }),
    );
    expect(created.status).toBe(201);
    await call(
      'POST',
      '/v1/sample-connectors/changes',
      { certificateType: LICENCE, subject: { unifiedSocialCreditCode: COMPANY.failing }, change: 'expired' },
      ADMIN,
    );
    const state = await until(async () => {
      const found = await call('GET', `/v1/subscriptions/${created.body.id}`);
      return found.body.deliveries['dead-lettered'] === 1 ? found.body : undefined;
    }, 'the dead letter');
    expect(state.deliveries).toMatchObject({ pending: 0, delivered: 0, 'dead-lettered': 1 });
    expect(failing.received.length).toBe(3);
    expect(failing.received.map((r) => r.headers['silobridge-delivery-attempt'])).toEqual(['1', '2', '3']);
    // The same notice each time, so the receiver can deduplicate.
    expect(new Set(failing.received.map((r) => r.notice.noticeId)).size).toBe(1);
    const outcomes = (await auditOf(created.body.id))
      .filter((event) => event.kind === 'change-notice')
      .map((event) => `${event.outcome}#${event.attempt}`);
    expect(outcomes).toEqual([
      'released#1',
      'retrying#1',
      'released#2',
      'retrying#2',
      'released#3',
      'dead-lettered#3',
    ]);
    const last = (await auditOf(created.body.id)).at(-1);
    expect(last?.reason).toBe('the target answered HTTP 503');
    // Data officers find dead letters by outcome.
    const search = await call(
      'GET',
      '/v1/audit/events?kind=change-notice&outcome=dead-lettered',
      undefined,
      AUDITOR,
    );
    expect(search.status).toBe(200);
    expect(
      search.body.events.map((e: { event: { subscriptionId: string } }) => e.event.subscriptionId),
    ).toContain(created.body.id);
  });
});

describe('the event stream', () => {
  it('delivers notices as Server-Sent Events, and again after a reconnect with Last-Event-ID', async () => {
    const created = await call(
      'POST',
      '/v1/subscriptions',
      subscription(COMPANY.stream, { method: 'stream' }),
    );
    expect(created.status).toBe(201);
    const token = await demoToken(embedded.dataDir, TEST_REQUESTER);
    const reading = readNoticeStream(url, token, 1);
    await delay(300);
    await call(
      'POST',
      '/v1/sample-connectors/changes',
      { certificateType: LICENCE, subject: { unifiedSocialCreditCode: COMPANY.stream }, change: 'revoked' },
      ADMIN,
    );
    const [event] = await reading;
    expect(event?.event).toBe('change-notice');
    expect(event?.data).toMatchObject({
      subscriptionId: created.body.id,
      change: 'revoked',
      fields: { status: 'revoked' },
    });
    expect(await verifyChangeNotice(event?.data as SignedChangeNotice, jwks)).toBeTruthy();
    // The client lost the event (say) and reconnects from the one before it.
    const again = await readNoticeStream(url, token, 1, { lastEventId: String(Number(event?.id) - 1) });
    expect(again[0]?.data.noticeId).toBe(event?.data.noticeId);
    const bad = await fetch(`${url}/v1/subscriptions/notices`, {
      headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': 'abc' },
    });
    expect(bad.status).toBe(400);
  });
});

describe('cancelling', () => {
  it('stops notices; only the owner or an administrator may, and other systems cannot see it', async () => {
    const created = await call(
      'POST',
      '/v1/subscriptions',
      subscription(COMPANY.cancelled, { method: 'webhook', target: 'case-system' }),
    );
    const id = created.body.id as string;
    expect((await call('GET', `/v1/subscriptions/${id}`, undefined, ADMIN)).status).toBe(200);
    expect(
      (await call('GET', `/v1/subscriptions/${id}`, undefined, 'civil-affairs/marriage-registry')).status,
    ).toBe(404);
    expect(
      (await call('DELETE', `/v1/subscriptions/${id}`, undefined, 'civil-affairs/marriage-registry')).status,
    ).toBe(404);
    expect((await call('GET', '/v1/subscriptions/not-a-uuid')).status).toBe(404);
    // The target is in use: it cannot be removed under an open subscription.
    const inUse = await call(
      'DELETE',
      `/v1/systems/${TEST_REQUESTER}/webhook-targets/case-system`,
      undefined,
      ADMIN,
    );
    expect(inUse.status).toBe(409);
    expect(inUse.body.type).toBe(`${PROBLEM}webhook-target-in-use`);

    expect((await call('DELETE', `/v1/subscriptions/${id}`)).status).toBe(204);
    const twice = await call('DELETE', `/v1/subscriptions/${id}`);
    expect(twice.status).toBe(409);
    expect(twice.body.type).toBe(`${PROBLEM}subscription-not-open`);
    expect(twice.body.title).toBe('Conflict with what exists');
    const open = await call('GET', '/v1/subscriptions');
    expect(open.body.subscriptions.map((s: { id: string }) => s.id)).not.toContain(id);
    const all = await call('GET', '/v1/subscriptions?state=all');
    expect(all.body.subscriptions.find((s: { id: string }) => s.id === id)?.state).toBe('cancelled');

    await call(
      'POST',
      '/v1/sample-connectors/changes',
      {
        certificateType: LICENCE,
        subject: { unifiedSocialCreditCode: COMPANY.cancelled },
        change: 'revoked',
      },
      ADMIN,
    );
    await delay(1500);
    const after = await call('GET', `/v1/subscriptions/${id}`);
    expect(after.body.deliveries).toEqual({
      pending: 0,
      delivered: 0,
      'dead-lettered': 0,
      denied: 0,
      cancelled: 0,
    });
    const trail = await auditOf(id);
    expect(trail.map((event) => event.action)).toEqual(['created', 'cancelled']);
    // Both are found by the subject: the cancellation carries the subscription's hashes.
    expect(trail[1]?.subjectHashes).toEqual(trail[0]?.subjectHashes);
    expect(trail[0]?.subjectHashes).toEqual(
      expect.arrayContaining([expect.stringMatching(/^[0-9a-f]{64}$/)]),
    );
  });
});

describe('change events the gateway refuses', () => {
  it('goes to the dead-letter topic with the reason, and no notice: forged, tampered, unreadable, another department’s type', async () => {
    const created = await call(
      'POST',
      '/v1/subscriptions',
      subscription(
        COMPANY.revoked,
        { method: 'webhook', target: 'case-system' },
        { purpose: { matter: TEST_MATTER, caseRef: 'FORGERY', officer: 'o' } },
      ),
    );
    expect(created.status).toBe(201);
    const signers = await demoConnectorSigners(embedded.dataDir);
    const topics = topicNames(embedded.gateway.config.topicPrefix);
    const event = (department: string) => ({
      version: 1,
      changeId: crypto.randomUUID(),
      department,
      certificateType: LICENCE,
      schemaVersion: 1,
      subject: { unifiedSocialCreditCode: COMPANY.revoked },
      change: 'amended',
      effectiveAt: new Date().toISOString(),
      fields: { name: 'Forged Ltd' },
      sentAt: new Date().toISOString(),
    });
    const forged = event('market-regulation');
    const signedByOther = { ...forged, signature: await signChangeEvent(signers('public-security'), forged) };
    const genuine = event('market-regulation');
    const tampered = {
      ...genuine,
      signature: await signChangeEvent(signers('market-regulation'), genuine),
      fields: { name: 'Tampered Ltd' },
    };
    const misplaced = event('public-security');
    const notItsType = {
      ...misplaced,
      signature: await signChangeEvent(signers('public-security'), misplaced),
    };
    const before = deadLetters.length;
    const deliveredBefore = receiver.received.length;
    await embedded.gateway.bus.publish(topics.recordChanges('market-regulation'), [
      { key: signedByOther.changeId, value: JSON.stringify(signedByOther) },
      { key: tampered.changeId, value: JSON.stringify(tampered) },
      { key: 'x', value: '{not json' },
    ]);
    await embedded.gateway.bus.publish(topics.recordChanges('public-security'), [
      { key: notItsType.changeId, value: JSON.stringify(notItsType) },
    ]);
    const reasons = await until(async () => {
      const fresh = deadLetters.slice(before);
      return fresh.length >= 4 ? fresh.map((m) => m.headers[DEAD_LETTER_REASON_HEADER]) : undefined;
    }, 'four dead letters');
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringContaining("signed with a key of department 'public-security'"),
        expect.stringContaining('the signed change event differs from the one sent'),
        'the change event is not JSON',
        expect.stringContaining("department 'public-security' does not provide business-licence records"),
      ]),
    );
    await delay(500);
    expect(receiver.received.length).toBe(deliveredBefore);
  });
});

describe('what the gateway keeps', () => {
  it('never stores an event nobody subscribed to, and forgets finished notices after the retention', async () => {
    const { database } = embedded.gateway;
    const count = async (sql: string) => Number((await database.query<{ n: string }>(sql)).rows[0]?.n);
    // A valid licence nobody subscribed to, revoked: taken in, matched against nothing, not kept.
    const unsubscribed = '91350111MAGM8JRM3Q';
    const published = await call(
      'POST',
      '/v1/sample-connectors/changes',
      {
        certificateType: LICENCE,
        subject: { unifiedSocialCreditCode: unsubscribed },
        change: 'amended',
        fields: { name: 'Renamed Ltd' },
      },
      ADMIN,
    );
    expect(published.status).toBe(202);
    await delay(1000);
    expect(
      await count(`SELECT count(*) AS n FROM record_changes WHERE change_id = '${published.body.changeId}'`),
    ).toBe(0);

    const pendingBefore = await count("SELECT count(*) AS n FROM notice_deliveries WHERE state = 'pending'");
    const finishedBefore = await count(
      "SELECT count(*) AS n FROM notice_deliveries WHERE state <> 'pending'",
    );
    expect(finishedBefore).toBeGreaterThan(0);
    // As the hourly prune does once the retention has passed.
    const pruned = await createNoticeStore(database).prune(new Date(Date.now() + 1000));
    expect(pruned.deliveries).toBe(finishedBefore);
    expect(await count("SELECT count(*) AS n FROM notice_deliveries WHERE state <> 'pending'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM notice_deliveries WHERE state = 'pending'")).toBe(
      pendingBefore,
    );
    // Change events still needed by a pending delivery stay; the others went with their deliveries.
    expect(await count('SELECT count(*) AS n FROM record_changes')).toBe(
      await count('SELECT count(DISTINCT change_id) AS n FROM notice_deliveries'),
    );
  });
});
