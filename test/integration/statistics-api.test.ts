/**
 * Sharing statistics end to end: real lookups through a gateway on real Kafka and PostgreSQL (granted,
 * denied, not found), then what data officers and the public see of them.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { usccCheckChar } from '../../gateway/catalog/identifiers.js';
import { type SampleConnectors, startAllSampleConnectors } from '../../gateway/demo/run-sample-connector.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import { rollUp } from '../../gateway/statistics/statistics-rollup.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { demoConnectorSigners } from '../support/department-keys.js';
import { lookupBody, lookupSubject, PURPOSE } from '../support/lookup-fixtures.js';
import {
  announcedInstances,
  createTestGatewayEnvironment,
  OPERATOR,
  type TestClient,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const AUDIT_CONSOLE = 'data-office/audit-console';
const logger = pino({ level: 'silent' });
const prefix = `statistics-${randomBytes(4).toString('hex')}`;
const HOUR_MS = 3_600_000;

describe('sharing statistics through the gateway', () => {
  let env: TestGatewayEnvironment;
  let gateway: RunningGateway;
  let api: TestClient;
  let officer: TestClient;
  let bus: Bus;
  let samples: SampleConnectors;
  const period = () => {
    const from = new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS).toISOString();
    const to = new Date(Date.now() + HOUR_MS).toISOString();
    return `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  };

  beforeAll(async () => {
    env = await createTestGatewayEnvironment(prefix);
    gateway = await env.start(`${prefix}-gw`);
    api = await env.client(gateway);
    officer = await env.client(gateway, AUDIT_CONSOLE);
    const operator = await env.client(gateway, OPERATOR);
    bus = createKafkaBus({
      brokers: inject('kafkaBrokers').split(','),
      clientId: `${prefix}-connectors`,
      logger,
    });
    samples = await startAllSampleConnectors({
      bus,
      topicPrefix: prefix,
      logger,
      heartbeatIntervalMs: 1000,
      signerFor: await demoConnectorSigners(env.dataDir),
    });
    await vi.waitFor(
      async () => {
        const { body } = await operator.get('/v1/connectors');
        const live = announcedInstances(body).filter((instance) => instance.live);
        expect(new Set(live.map((instance) => instance.department)).size).toBe(4);
      },
      { timeout: 20_000, interval: 100 },
    );

    const granted = await api.post('/v1/lookups', lookupBody('resident-id-card'));
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
    const unknownCompany = '91350100MA00000X1'.slice(0, 17);
    const notFound = await api.post('/v1/lookups', {
      certificateType: 'business-licence',
      subject: { unifiedSocialCreditCode: unknownCompany + usccCheckChar(unknownCompany) },
      purpose: PURPOSE,
    });
    expect(notFound.status, JSON.stringify(notFound.body)).toBe(404);
    const denied = await api.post('/v1/lookups', {
      ...lookupBody('marriage-certificate'),
      purpose: { ...PURPOSE, matter: 'NOT-GRANTED-0001' },
    });
    expect(denied.status, JSON.stringify(denied.body)).toBe(403);
  }, 90_000);

  afterAll(async () => {
    await samples?.stop();
    await bus?.close();
    await env?.cleanup();
  });

  it('shows the lookups to data officers by requester, provider and type', async () => {
    const { status, body } = await officer.get(`/v1/statistics?${period()}&granularity=hour`);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.totals).toMatchObject({ total: 3, granted: 1, denied: 1, notFound: 1 });
    expect(Object.values(body.totals.deniedByReason)).toEqual([1]);
    expect(body.totals.latencyMs.p50).toBeGreaterThan(0);
    expect(body.rows).toContainEqual(
      expect.objectContaining({
        requester: 'service-centre',
        provider: 'public-security',
        certificateType: 'resident-id-card',
        granted: 1,
      }),
    );
    expect(body.rows).toContainEqual(
      expect.objectContaining({
        provider: 'market-regulation',
        certificateType: 'business-licence',
        notFound: 1,
      }),
    );
  });

  it('scores the departments', async () => {
    const { status, body } = await officer.get(`/v1/statistics/scorecard?${period()}`);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.providers).toContainEqual(
      expect.objectContaining({
        department: 'public-security',
        lookups: 1,
        answeredWithinDeadline: 1,
        timedOut: 0,
      }),
    );
    expect(body.requesters).toEqual([
      expect.objectContaining({ department: 'service-centre', lookups: 3, denied: 1 }),
    ]);
  });

  it('publishes an anonymous summary without systems, officers, cases or identifiers', async () => {
    const response = await fetch(`${gateway.url}/v1/public/summary?${period()}`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const body = JSON.parse(text);
    expect(body.totals).toMatchObject({ lookups: 3, answered: 2, denied: 1 });
    expect(body.requesters).toEqual([{ department: 'service-centre', lookups: 3, deniedShare: 0.3333 }]);
    const identifiers = [lookupSubject('resident-id-card'), lookupSubject('marriage-certificate')].flatMap(
      (subject) => Object.values(subject),
    );
    for (const secret of [
      'service-centre/approval',
      '/',
      PURPOSE.officer,
      PURPOSE.caseRef,
      PURPOSE.matter,
      'NOT-GRANTED',
      ...identifiers,
    ]) {
      expect(text.replaceAll('https://', '').replace(/"(from|to|generatedAt)":"[^"]*"/g, '')).not.toContain(
        secret,
      );
    }
  });

  it('refuses the statistics to a system without the audit role', async () => {
    const { status, body } = await api.get(`/v1/statistics?${period()}`);
    expect(status).toBe(403);
    expect(body.type).toBe('https://silobridge.dev/problems/missing-role');
  });

  it('never counts an event twice when gateway instances fold the log at the same time', async () => {
    const instances = [1, 2].map(() => createPostgresDatabase({ connectionString: env.database.url }));
    try {
      const more = Array.from({ length: 5 }, (_, i) =>
        api.post(
          '/v1/lookups',
          lookupBody('resident-id-card', 0, { purpose: { ...PURPOSE, caseRef: `C-${i}` } }),
        ),
      );
      await Promise.all([...more, ...instances.map((database) => rollUp(database, 1))]);
      await Promise.all(instances.map((database) => rollUp(database, 2)));
      await rollUp(instances[0] as (typeof instances)[0]);
      const { rows } = await (instances[0] as (typeof instances)[0]).query<{
        folded: string;
        logged: string;
      }>(
        `SELECT (SELECT sum(lookups) FROM statistics_lookup_hours) AS folded,
                (SELECT count(*) FROM audit_events WHERE kind = 'lookup') AS logged`,
      );
      expect(Number(rows[0]?.folded)).toBe(8);
      expect(Number(rows[0]?.logged)).toBe(8);
      const { body } = await officer.get(`/v1/statistics?${period()}&groupBy=`);
      expect(body.totals).toMatchObject({ total: 8, granted: 6 });
    } finally {
      await Promise.all(instances.map((database) => database.close()));
    }
  });
});
