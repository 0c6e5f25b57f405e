/**
 * Change notices over a real Kafka broker and PostgreSQL: the market-regulation sample connector on its
 * own Kafka client revokes a licence and publishes the signed change event; the gateway takes it in
 * and POSTs the notice to the approval system's webhook (a real HTTP server), as its policy allows. A
 * subscription outside the policy is refused. Deliveries survive a gateway restart: a notice whose
 * webhook was failing when its gateway stopped is delivered by the next instance, and a change
 * published while no gateway ran is taken in from Kafka when one starts.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { runSampleConnector, type SampleConnector } from '../../gateway/demo/run-sample-connector.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import { type SignedChangeNotice, verifyChangeNotice } from '../../gateway/notices/change-notice.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import type { JsonWebKeySet } from '../../gateway/signing/jws.js';
import { demoConnectorSigners } from '../support/department-keys.js';
import { TEST_MATTER } from '../support/gateway-auth.js';
import { type NoticeReceiver, startNoticeReceiver } from '../support/notice-receiver.js';
import {
  createTestGatewayEnvironment,
  OPERATOR,
  type TestClient,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const brokers = inject('kafkaBrokers');
const logger = pino({ level: 'silent' });
const prefix = `notices-${randomBytes(4).toString('hex')}`;
const LICENCE = 'business-licence';
const REVOKED = '91350100MAN05TYCX0';
const DURING_OUTAGE = '92350206MAQK6WQH7B';
const WHILE_STOPPED = '91350102MA6EC6CB9E';
const NOTICE_SETTINGS = {
  SILOBRIDGE_NOTICE_RETRY_BASE_MS: '200',
  SILOBRIDGE_NOTICE_RETRY_MAX_MS: '500',
  SILOBRIDGE_NOTICE_MAX_ATTEMPTS: '100',
};

describe('change notices over Kafka and PostgreSQL', () => {
  let env: TestGatewayEnvironment;
  let gateway: RunningGateway;
  let api: TestClient;
  let admin: TestClient;
  let connectorBus: Bus;
  let connector: SampleConnector;
  let receiver: NoticeReceiver;

  const subscribe = (company: string, extra: object = {}) =>
    api.post('/v1/subscriptions', {
      certificateType: LICENCE,
      subject: { unifiedSocialCreditCode: company },
      purpose: { matter: TEST_MATTER, caseRef: `CASE-${company.slice(-4)}`, officer: 'officer-9' },
      endsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      delivery: { method: 'webhook', target: 'approvals' },
      ...extra,
    });
  const revoke = (company: string) =>
    connector.applyChange({
      certificateType: LICENCE,
      subject: { unifiedSocialCreditCode: company },
      change: 'revoked',
    });
  const noticeFor = (changeId: string) =>
    receiver.received.find((r) => r.answered === 204 && r.notice.changeId === changeId)?.notice;

  beforeAll(async () => {
    env = await createTestGatewayEnvironment(prefix);
    gateway = await env.start(`${prefix}-a`, NOTICE_SETTINGS);
    api = await env.client(gateway);
    admin = await env.client(gateway, OPERATOR);
    receiver = await startNoticeReceiver();
    const target = await admin.put('/v1/systems/service-centre/approval/webhook-targets/approvals', {
      url: receiver.url,
    });
    expect(target.status).toBe(201);
    connectorBus = createKafkaBus({ brokers: brokers.split(','), clientId: `${prefix}-mr`, logger });
    connector = await runSampleConnector({
      bus: connectorBus,
      department: 'market-regulation',
      topicPrefix: prefix,
      signer: (await demoConnectorSigners(env.dataDir))('market-regulation'),
      logger,
    });
  }, 90_000);

  afterAll(async () => {
    await connector?.stop();
    await connectorBus?.close();
    await receiver?.close();
    await env?.cleanup();
  });

  it('refuses a subscription outside the policy, naming the reason', async () => {
    const refused = await subscribe(REVOKED, {
      purpose: { matter: 'NOT-GRANTED-1', caseRef: 'C-1', officer: 'officer-9' },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.reason).toBe('matter-not-allowed');
  });

  it('delivers a revocation published by the connector to the webhook, signed, as the policy allows', async () => {
    const created = await subscribe(REVOKED);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const event = await revoke(REVOKED);
    const notice = await vi.waitFor(
      () => {
        const found = noticeFor(event.changeId);
        if (!found) throw new Error('no notice yet');
        return found;
      },
      { timeout: 30_000, interval: 100 },
    );
    expect(notice).toMatchObject({
      subscriptionId: created.body.id,
      certificateType: LICENCE,
      provider: 'market-regulation',
      subject: { unifiedSocialCreditCode: REVOKED },
      change: 'revoked',
    });
    // The test policy grants every field: the event's changed fields, as the department sent them.
    expect(notice.fields).toEqual(event.fields);
    const jwks = (await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json()) as JsonWebKeySet;
    expect(await verifyChangeNotice(notice, jwks)).toMatchObject({ changeId: event.changeId });
  }, 60_000);

  it('survives a gateway restart: a failing delivery and a change published while no gateway ran', async () => {
    const failing = await subscribe(DURING_OUTAGE);
    const whileStopped = await subscribe(WHILE_STOPPED);
    expect([failing.status, whileStopped.status]).toEqual([201, 201]);
    receiver.answerWith(503);
    const first = await revoke(DURING_OUTAGE);
    await vi.waitFor(
      () => expect(receiver.received.some((r) => r.notice.changeId === first.changeId)).toBe(true),
      { timeout: 30_000, interval: 100 },
    );
    await gateway.close();
    const second = await revoke(WHILE_STOPPED);
    receiver.answerWith(204);

    gateway = await env.start(`${prefix}-b`, NOTICE_SETTINGS);
    const delivered = await vi.waitFor(
      () => {
        const notices = [noticeFor(first.changeId), noticeFor(second.changeId)];
        if (notices.some((notice) => notice === undefined)) throw new Error('not yet delivered');
        return notices as SignedChangeNotice[];
      },
      { timeout: 60_000, interval: 200 },
    );
    expect(delivered.map((notice) => notice.subscriptionId)).toEqual([failing.body.id, whileStopped.body.id]);
    // The same notice as the failed attempts (one id to deduplicate on), each delivered once.
    const attempts = receiver.received.filter((r) => r.notice.changeId === first.changeId);
    expect(new Set(attempts.map((r) => r.notice.noticeId)).size).toBe(1);
    expect(attempts.filter((r) => r.answered === 204)).toHaveLength(1);
    const afterRestart = await (await env.client(gateway)).get(`/v1/subscriptions/${failing.body.id}`);
    expect(afterRestart.body.deliveries).toMatchObject({ delivered: 1, pending: 0 });
  }, 120_000);
});
