/**
 * Evidence bundles end to end over a real Kafka broker and PostgreSQL: the gateway and the
 * departments' connectors on their own Kafka clients, the sample matter catalogue, and a policy that
 * lets the approval system fetch what the one-stop matters need. Market regulation has no connector
 * running (a department down); civil affairs answers slowly on demand.
 */
import { randomBytes } from 'node:crypto';
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { CertificateHandler } from '../../connectors/runtime/certificate-handler.js';
import { type Connector, createConnector } from '../../connectors/runtime/connector-runtime.js';
import { createSampleHandlers } from '../../connectors/samples/sample-connectors.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { policiesDir, sampleSeedDir } from '../../gateway/foundation/paths.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import { verifyEvidenceBundle } from '../../gateway/matters/bundle-signature.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import type { JsonWebKeySet } from '../../gateway/signing/jws.js';
import { verifySavedLookupResponse } from '../../gateway/signing/lookup-response-verifier.js';
import { demoConnectorSigners } from '../support/department-keys.js';
import {
  announcedInstances,
  createTestGatewayEnvironment,
  OPERATOR,
  type TestClient,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const brokers = inject('kafkaBrokers');
const logger = pino({ level: 'silent' });
const prefix = `evidence-${randomBytes(4).toString('hex')}`;
const TIMEOUT_MS = 2000;
const LIN = '35010219850101123X';
const NO_HOME = '350121199312010717';
const CASE = { caseRef: 'SC-2026-000777', officer: 'officer-007' };

// biome-ignore lint/suspicious/noExplicitAny: response JSON; assertions check its shape.
type Json = Record<string, any>;

const grant = (certificateType: string, matters: string[], fields: string[]) => ({
  id: `EV-${certificateType}`,
  certificateType,
  matters: matters.map((code) => ({ code, name: code })),
  fields,
  legalBasis: 'Test fixture: not a real grant.',
});
const POLICY = {
  version: 1,
  id: 'evidence-bundles',
  title: 'Evidence bundle tests',
  requester: { department: 'service-centre', systems: ['service-centre/approval'] },
  validFrom: '2026-01-01',
  rateLimit: { requestsPerMinute: 100_000, burst: 10_000 },
  grants: [
    grant('resident-id-card', ['SC-0201', 'NR-0101'], ['name', 'status']),
    grant('real-estate-certificate', ['SC-0201'], ['certificateNumber', 'location', 'status']),
    grant('marriage-certificate', ['SC-0201'], ['certificateNumber', 'registeredOn', 'status']),
    grant('business-licence', ['SC-0101'], ['name', 'status']),
  ],
};

let civilAffairsSlow = false;
function handlersOf(department: string): Record<string, CertificateHandler> {
  const sample = createSampleHandlers(department, sampleSeedDir);
  if (department !== 'civil-affairs') return sample;
  const marriages = sample['marriage-certificate'] as CertificateHandler;
  return {
    'marriage-certificate': {
      ...marriages,
      async lookup(request, signal) {
        if (civilAffairsSlow) await delay(TIMEOUT_MS * 2);
        return marriages.lookup(request, signal);
      },
    },
  };
}

describe('evidence bundles over Kafka and PostgreSQL', () => {
  let env: TestGatewayEnvironment;
  let gateway: RunningGateway;
  let api: TestClient;
  let connectorBus: Bus;
  const connectors: Connector[] = [];
  const collect = (code: string, applicant: Record<string, string>) =>
    api.post(`/v1/matters/${code}/evidence`, { applicant, ...CASE });
  const published = async (route: string) =>
    (await (await fetch(`${gateway.url}${route}`)).json()) as JsonWebKeySet;
  const byType = (bundle: Json, certificateType: string): Json =>
    bundle.items.find((item: Json) => item.certificateType === certificateType);

  beforeAll(async () => {
    env = await createTestGatewayEnvironment(prefix);
    const policies = path.join(env.dataDir, 'policies');
    await writeFile(path.join(policies, 'evidence-bundles.json'), JSON.stringify(POLICY));
    await cp(path.join(policiesDir, 'matters'), path.join(policies, 'matters'), { recursive: true });
    gateway = await env.start(`${prefix}-gw`, { SILOBRIDGE_LOOKUP_TIMEOUT_MS: String(TIMEOUT_MS) });
    api = await env.client(gateway);
    const operator = await env.client(gateway, OPERATOR);
    connectorBus = createKafkaBus({ brokers: brokers.split(','), clientId: `${prefix}-connectors`, logger });
    const signerFor = await demoConnectorSigners(env.dataDir);
    for (const department of ['public-security', 'natural-resources', 'civil-affairs']) {
      const connector = createConnector({
        bus: connectorBus,
        department,
        topicPrefix: prefix,
        signer: signerFor(department),
        handlers: handlersOf(department),
        heartbeatIntervalMs: 1000,
        logger,
      });
      await connector.start();
      connectors.push(connector);
    }
    await vi.waitFor(
      async () => {
        const { body } = await operator.get('/v1/connectors');
        const live = announcedInstances(body).filter((instance) => instance.live);
        expect(new Set(live.map((instance) => instance.department)).size).toBe(3);
      },
      { timeout: 30_000, interval: 200 },
    );
  }, 90_000);

  afterAll(async () => {
    for (const connector of connectors) await connector.stop();
    await connectorBus?.close();
    await env?.cleanup();
  });

  it('answers the three certificates of three departments, each verifiable, in a bundle signed as a whole', async () => {
    const { status, body } = await collect('SC-0201', { residentIdNumber: LIN });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.items.map((item: Json) => [item.certificateType, item.status, item.provider])).toEqual([
      ['resident-id-card', 'found', 'public-security'],
      ['real-estate-certificate', 'found', 'natural-resources'],
      ['marriage-certificate', 'found', 'civil-affairs'],
    ]);
    expect(body.missing).toEqual([]);
    const departmentKeys = await published('/.well-known/department-jwks.json');
    const gatewayKeys = await published('/.well-known/jwks.json');
    for (const item of body.items) {
      const report = await verifySavedLookupResponse(item, { departmentKeys, gatewayKeys });
      expect(report.failures, item.certificateType).toEqual([]);
    }
    const signed = await verifyEvidenceBundle(body.signature, gatewayKeys);
    expect(signed.bundleId).toBe(body.bundleId);
    expect(signed.matter).toBe('SC-0201');
    expect(signed.items.map((item) => [item.lookupId, item.status, item.recordDigest])).toEqual(
      body.items.map((item: Json) => [item.lookupId, 'found', item.recordDigest]),
    );

    // Each item is a lookup audit event in PostgreSQL, carrying the bundle id.
    const { rows } = await gateway.database.query<{ event: Json }>(
      "SELECT event FROM audit_events WHERE event->>'bundleId' = $1",
      [body.bundleId],
    );
    expect(rows.map((row) => row.event.lookupId).sort()).toEqual(
      body.items.map((item: Json) => item.lookupId).sort(),
    );
    for (const { event } of rows) expect(event.purpose).toEqual({ matter: 'SC-0201', ...CASE });
  });

  it('gives a slow department’s item timed-out and the others found, within one deadline', async () => {
    civilAffairsSlow = true;
    try {
      const { status, body, ms } = await collect('SC-0201', { residentIdNumber: LIN });
      expect(status).toBe(200);
      expect(byType(body, 'marriage-certificate')).toMatchObject({
        status: 'timed-out',
        reason: 'provider-timeout',
      });
      expect(byType(body, 'resident-id-card').status).toBe('found');
      expect(byType(body, 'real-estate-certificate').status).toBe('found');
      expect(ms).toBeLessThan(TIMEOUT_MS + 1500);
    } finally {
      civilAffairsSlow = false;
    }
  });

  it('gives the item of a department with no connector running unavailable, and names it missing', async () => {
    const { body } = await collect('SC-0101', { unifiedSocialCreditCode: '91350100M000100Y43' });
    expect(body.items).toEqual([
      expect.objectContaining({ certificateType: 'business-licence', status: 'unavailable' }),
    ]);
    expect(body.missing.map((missing: Json) => [missing.evidence, missing.anyOf])).toEqual([
      ['operator', ['business-licence']],
    ]);
  });

  it('names a denied item with its reason, and a required item not found in missing', async () => {
    const denied = await collect('NR-0101', { residentIdNumber: LIN });
    expect(byType(denied.body, 'marriage-certificate')).toMatchObject({
      status: 'denied',
      reason: 'matter-not-allowed',
    });
    const noHome = await collect('SC-0201', { residentIdNumber: NO_HOME });
    expect(byType(noHome.body, 'real-estate-certificate').status).toBe('not-found');
    expect(noHome.body.missing.map((missing: Json) => missing.evidence)).toEqual(['premises']);
  });

  it('answers 404 for an unknown matter and 400 for a bad check character', async () => {
    const unknown = await collect('XX-9999', { residentIdNumber: LIN });
    expect(unknown.status).toBe(404);
    expect(unknown.body.type).toBe('https://silobridge.dev/problems/matter-not-found');
    const bad = await collect('SC-0201', { residentIdNumber: `${LIN.slice(0, 17)}1` });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([
      { pointer: '/applicant/residentIdNumber', reason: 'the check character does not match' },
    ]);
  });
});
