/**
 * Change events, the connector's side (docs/protocol.md, "Change events"): the SDK's publishChange
 * signs and publishes an event a gateway's checks accept, and refuses what it must not send; the sample
 * connectors change a record they hold, so later lookups see it, and announce the change.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFixtureHandler, type FixtureEntry } from '../../connectors/adapters/fixture-adapter.js';
import type { CertificateHandler } from '../../connectors/runtime/certificate-handler.js';
import { RecordChangeError } from '../../connectors/runtime/change-events.js';
import {
  type Connector,
  type ConnectorOptions,
  createConnector,
} from '../../connectors/runtime/connector-runtime.js';
import { applySampleChange, readSeed } from '../../connectors/samples/sample-connectors.js';
import { createLookupRequester, type LookupRequester } from '../../connectors/testing/lookup-requester.js';
import { createInProcessBus } from '../../gateway/bus/in-process-bus.js';
import { loadSchemaCatalog, type SchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import {
  SampleChangeError,
  type SampleConnectors,
  startAllSampleConnectors,
} from '../../gateway/demo/run-sample-connector.js';
import { projectRoot, sampleSeedDir, schemasDir } from '../../gateway/foundation/paths.js';
import { createProviderSignatures } from '../../gateway/lookups/provider-signatures.js';
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import { CHANGE_SIGNATURE_TYP, decodeCompactJws } from '../../gateway/protocol/department-signature.js';
import type { RecordChangeEnvelope } from '../../gateway/protocol/envelopes.js';
import { topicNames } from '../../gateway/protocol/topics.js';
import { credentialsOf, departmentIdentities, departmentIdentity } from '../support/department-keys.js';

const logger = pino({ level: 'silent' });
const MARKET = 'market-regulation';
const CREDIT_CODE = '91350100M000100Y43';
const identity = departmentIdentity(MARKET);
// The gateway's check, against a registry that knows this department's connector key only.
const signatures = createProviderSignatures(credentialsOf(identity));

let catalog: SchemaCatalog;
beforeAll(async () => {
  catalog = await loadSchemaCatalog(schemasDir);
});

/** Every message on `topic` (from its beginning, or only new ones), in a group of its own. */
async function watch(bus: Bus, topic: string, groupId: string, fromBeginning = true) {
  const seen: IncomingMessage[] = [];
  const subscription = await bus.subscribe({
    topics: [topic],
    groupId,
    fromBeginning,
    handle: async (message) => void seen.push(message),
  });
  await subscription.ready;
  return { seen, stop: () => subscription.stop() };
}

describe('publishChange (connector runtime, in-process bus)', () => {
  let bus: Bus;
  let prefix: string;
  const stops: Array<() => Promise<void>> = [];

  beforeEach(() => {
    bus = createInProcessBus({ logger });
    prefix = `c${randomBytes(4).toString('hex')}`;
  });

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await bus.close();
  });

  const licenceHandler: CertificateHandler = { schemaVersion: 1, lookup: async () => undefined };

  function connector(overrides: Partial<ConnectorOptions> = {}): Connector {
    const created = createConnector({
      bus,
      department: MARKET,
      instanceId: 'mr-1',
      topicPrefix: prefix,
      signer: identity.signer,
      handlers: { 'business-licence': licenceHandler },
      logger,
      validateChange: (value) => catalog.validateEnvelope('record-change', value),
      ...overrides,
    });
    stops.push(() => created.stop());
    return created;
  }

  async function started(overrides: Partial<ConnectorOptions> = {}) {
    const running = connector(overrides);
    await running.start();
    const changes = await watch(bus, topicNames(prefix).recordChanges(MARKET), `${prefix}.watch`);
    stops.push(changes.stop);
    return { connector: running, changes: changes.seen };
  }

  it('publishes a signed event on its department’s change topic, keyed by changeId, that the gateway accepts', async () => {
    const { connector, changes } = await started();
    const published = await connector.publishChange({
      certificateType: 'business-licence',
      subject: { unifiedSocialCreditCode: CREDIT_CODE },
      change: 'revoked',
      effectiveAt: '2026-11-30T09:00:00+08:00',
      fields: { status: 'revoked', statusChangedOn: '2026-11-30' },
    });

    expect(published).toMatchObject({
      version: 1,
      changeId: expect.stringMatching(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
      department: MARKET,
      certificateType: 'business-licence',
      schemaVersion: 1,
      subject: { unifiedSocialCreditCode: CREDIT_CODE },
      change: 'revoked',
      // In UTC, as every timestamp of the protocol.
      effectiveAt: '2026-11-30T01:00:00.000Z',
      fields: { status: 'revoked', statusChangedOn: '2026-11-30' },
    });
    expect(Date.now() - Date.parse(published.sentAt)).toBeLessThan(5_000);

    await vi.waitFor(() => expect(changes).toHaveLength(1));
    const [message] = changes as [IncomingMessage];
    expect(message.topic).toBe(`${prefix}.record-changes.${MARKET}`);
    expect(message.key).toBe(published.changeId);
    expect(message.headers['content-type']).toBe('application/json');
    const event = JSON.parse(message.value) as RecordChangeEnvelope;
    expect(event).toEqual(published);
    expect(catalog.validateEnvelope('record-change', event)).toEqual({ ok: true });

    const { header, payload } = decodeCompactJws(event.signature);
    expect(header).toEqual({ alg: 'ES256', kid: identity.signer.keyId, typ: CHANGE_SIGNATURE_TYP });
    const { signature: _, ...unsigned } = event;
    expect(payload).toEqual(unsigned);
    await expect(signatures.verifyChange({ ...event })).resolves.toBe(identity.signer.keyId);
    expect(connector.stats().changes).toBe(1);
  });

  it('publishes an event the gateway refuses once anything in it was changed after signing', async () => {
    const { connector } = await started();
    const event = await connector.publishChange({
      certificateType: 'business-licence',
      subject: { unifiedSocialCreditCode: CREDIT_CODE },
      change: 'revoked',
      fields: { status: 'revoked' },
    });
    const refusal = /the signed change event differs from the one sent/;
    await expect(signatures.verifyChange({ ...event, change: 'expired' })).rejects.toThrow(refusal);
    await expect(signatures.verifyChange({ ...event, fields: { status: 'valid' } })).rejects.toThrow(refusal);
    await expect(
      signatures.verifyChange({ ...event, subject: { unifiedSocialCreditCode: '91350203MAH44MFA0Y' } }),
    ).rejects.toThrow(refusal);
    // Not a member to drop, either: the gateway compares the whole event with what was signed.
    const { fields: _, ...withoutFields } = event;
    await expect(signatures.verifyChange(withoutFields)).rejects.toThrow(refusal);
    const { signature: __, ...unsigned } = event;
    await expect(signatures.verifyChange(unsigned)).rejects.toThrow(/not signed/);
    // Another department's connector cannot announce this department's changes.
    const civil = departmentIdentity('civil-affairs');
    const forged = { ...event, signature: await civil.signer.sign(unsigned, CHANGE_SIGNATURE_TYP) };
    await expect(
      createProviderSignatures(credentialsOf(identity, civil)).verifyChange(forged),
    ).rejects.toThrow(/key of department 'civil-affairs', not 'market-regulation'/);
  });

  it('uses the changeId it is given, so a re-sent change is recognised as the same one', async () => {
    const { connector, changes } = await started();
    const changeId = '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f';
    const change = {
      certificateType: 'business-licence',
      subject: { unifiedSocialCreditCode: CREDIT_CODE },
      change: 'expired' as const,
      changeId,
    };
    const first = await connector.publishChange(change);
    const second = await connector.publishChange(change);
    expect([first.changeId, second.changeId]).toEqual([changeId, changeId]);
    expect(first).not.toHaveProperty('fields');
    await vi.waitFor(() => expect(changes.map((message) => message.key)).toEqual([changeId, changeId]));
  });

  it('refuses a certificate type it does not answer, naming those it does, and sends nothing', async () => {
    const { connector, changes } = await started();
    const refused = connector.publishChange({
      certificateType: 'marriage-certificate',
      subject: { certificateNumber: 'J350102-2015-000123' },
      change: 'revoked',
    });
    await expect(refused).rejects.toThrow(RecordChangeError);
    await expect(refused).rejects.toMatchObject({
      code: 'unsupported-certificate-type',
      message:
        'connector market-regulation/mr-1 does not answer "marriage-certificate", so it publishes no changes of it; it answers business-licence',
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(changes).toEqual([]);
    expect(connector.stats().changes).toBe(0);
  });

  it('refuses an invalid change before signing it, with or without the schema check', async () => {
    for (const validateChange of [
      undefined,
      (value: unknown) => catalog.validateEnvelope('record-change', value),
    ]) {
      const { connector } = await started({ validateChange });
      const base = {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: CREDIT_CODE },
        change: 'revoked' as const,
      };
      await expect(connector.publishChange({ ...base, change: 'deleted' as never })).rejects.toMatchObject({
        code: 'invalid-change',
        message: 'invalid change: change "deleted" is not one of revoked, expired, amended',
      });
      // A date without a time or an offset is a day somewhere, not an instant.
      await expect(connector.publishChange({ ...base, effectiveAt: '2026-11-30' })).rejects.toMatchObject({
        code: 'invalid-change',
        message: expect.stringMatching(/effectiveAt must be a Date or an RFC 3339 date-time/),
      });
      await expect(connector.publishChange({ ...base, subject: {} })).rejects.toMatchObject({
        code: 'invalid-change',
      });
      await expect(
        connector.publishChange({ ...base, subject: { residentIdNumber: ['a', 7] as never } }),
      ).rejects.toMatchObject({ code: 'invalid-change', message: /subject.residentIdNumber must be/ });
      await expect(connector.publishChange({ ...base, changeId: 'change-1' })).rejects.toMatchObject({
        code: 'invalid-change',
        message: 'invalid change: changeId must be a UUID',
      });
      await connector.stop();
    }
  });

  it('checks the signed event against the record-change schema when given it', async () => {
    const { connector, changes } = await started();
    // Within the runtime's own checks, but more identifiers than the envelope allows.
    const subject = Object.fromEntries(Array.from({ length: 11 }, (_, index) => [`id${index}`, 'x']));
    await expect(
      connector.publishChange({ certificateType: 'business-licence', subject, change: 'amended' }),
    ).rejects.toMatchObject({
      code: 'invalid-change',
      message: expect.stringMatching(/^not a valid record-change envelope: \/subject /),
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(changes).toEqual([]);
  });

  it('refuses to publish before start and after stop', async () => {
    const idle = connector();
    const change = {
      certificateType: 'business-licence',
      subject: { unifiedSocialCreditCode: CREDIT_CODE },
      change: 'revoked' as const,
    };
    await expect(idle.publishChange(change)).rejects.toMatchObject({
      code: 'not-running',
      message: 'connector market-regulation/mr-1 is not started: publish changes between start() and stop()',
    });
    await idle.start();
    await idle.publishChange(change);
    await idle.stop();
    await expect(idle.publishChange(change)).rejects.toMatchObject({
      code: 'not-running',
      message: expect.stringMatching(/is stopped/),
    });
  });

  it('lets a change being published finish before stop() resolves', async () => {
    const { connector, changes } = await started();
    const publishing = connector.publishChange({
      certificateType: 'business-licence',
      subject: { unifiedSocialCreditCode: CREDIT_CODE },
      change: 'revoked',
    });
    await connector.stop();
    await expect(publishing).resolves.toMatchObject({ change: 'revoked' });
    await vi.waitFor(() => expect(changes).toHaveLength(1));
  });
});

describe('sample connectors’ applyChange', () => {
  const identities = departmentIdentities();
  let bus: Bus;
  let prefix: string;
  let requester: LookupRequester;
  let samples: SampleConnectors;

  beforeAll(async () => {
    bus = createInProcessBus({ logger });
    prefix = `s${randomBytes(4).toString('hex')}`;
    requester = createLookupRequester({ bus, topicPrefix: prefix });
    await requester.start();
    samples = await startAllSampleConnectors({
      bus,
      topicPrefix: prefix,
      logger,
      catalog,
      signerFor: identities.signerFor,
    });
  });

  afterAll(async () => {
    await samples?.stop();
    await requester?.stop();
    await bus?.close();
  });

  const lookupLicence = async (unifiedSocialCreditCode: string) =>
    requester.lookup(MARKET, { certificateType: 'business-licence', subject: { unifiedSocialCreditCode } });

  it('revokes a record: later lookups answer it revoked, and the signed event goes out', async () => {
    const changes = await watch(bus, topicNames(prefix).recordChanges(MARKET), `${prefix}.watch.revoke`);
    expect(await lookupLicence(CREDIT_CODE)).toMatchObject({ outcome: 'found', record: { status: 'valid' } });

    const event = await samples.applyChange(MARKET, {
      certificateType: 'business-licence',
      subject: { unifiedSocialCreditCode: CREDIT_CODE },
      change: 'revoked',
      // 07:30 in Fuzhou is still the day before in UTC: the record is dated as the department sees it.
      effectiveAt: '2026-11-29T23:30:00Z',
    });
    expect(event).toMatchObject({
      department: MARKET,
      certificateType: 'business-licence',
      schemaVersion: 1,
      subject: { unifiedSocialCreditCode: CREDIT_CODE },
      change: 'revoked',
      effectiveAt: '2026-11-29T23:30:00.000Z',
      fields: { status: 'revoked', statusChangedOn: '2026-11-30' },
    });

    const reply = await lookupLicence(CREDIT_CODE);
    expect(reply).toMatchObject({
      outcome: 'found',
      record: { unifiedSocialCreditCode: CREDIT_CODE, status: 'revoked', statusChangedOn: '2026-11-30' },
    });
    expect(catalog.validateRecord('business-licence', 1, reply.record)).toEqual({ ok: true });
    // Only that record changed.
    expect(await lookupLicence('91350203MAH44MFA0Y')).toMatchObject({ record: { status: 'valid' } });

    await vi.waitFor(() => expect(changes.seen).toHaveLength(1));
    const published = JSON.parse(changes.seen[0]?.value ?? '') as RecordChangeEnvelope;
    expect(published).toEqual(event);
    expect(changes.seen[0]?.key).toBe(event.changeId);
    expect(catalog.validateEnvelope('record-change', published)).toEqual({ ok: true });
    await expect(identities.signatures.verifyChange({ ...published })).resolves.toBe(
      identities.of(MARKET).signer.keyId,
    );
    await changes.stop();
  });

  it('names the record by every identifier it holds, one value each', async () => {
    const [wife, husband] = ['350102198702022349', '35010219850101123X'];
    const event = await samples.applyChange('civil-affairs', {
      certificateType: 'marriage-certificate',
      subject: { residentIdNumber: wife },
      change: 'expired',
    });
    expect(event.subject).toEqual({ residentIdNumber: wife, certificateNumber: 'J350102-2015-000123' });
    const food = await samples.applyChange(MARKET, {
      certificateType: 'food-business-licence',
      subject: { licenceNumber: 'JY13501020045678' },
      change: 'amended',
      fields: { operatorName: '福州闽江茶业股份有限公司' },
    });
    expect(food.subject).toEqual({ unifiedSocialCreditCode: CREDIT_CODE, licenceNumber: 'JY13501020045678' });
    expect(food.fields).toEqual({ operatorName: '福州闽江茶业股份有限公司' });
    // Either spouse's number finds the changed certificate.
    const reply = await requester.lookup('civil-affairs', {
      certificateType: 'marriage-certificate',
      subject: { residentIdNumber: husband },
    });
    expect(reply).toMatchObject({ outcome: 'found', record: { status: 'expired' } });
  });

  it('refuses, changing nothing and sending nothing, what it cannot apply', async () => {
    const changes = await watch(
      bus,
      topicNames(prefix).recordChanges(MARKET),
      `${prefix}.watch.refusals`,
      false,
    );
    const before = await lookupLicence('91350203MAH44MFA0Y');

    await expect(
      samples.applyChange('tax', {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: CREDIT_CODE },
        change: 'revoked',
      }),
    ).rejects.toMatchObject({ name: 'SampleChangeError', code: 'unknown-department' });
    await expect(
      samples.applyChange(MARKET, {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: '91350100MA0000000X' },
        change: 'revoked',
      }),
    ).rejects.toMatchObject({ code: 'record-not-found' });
    await expect(
      samples.applyChange(MARKET, {
        certificateType: 'resident-id-card',
        subject: { residentIdNumber: '35010219850101123X' },
        change: 'revoked',
      }),
    ).rejects.toMatchObject({ name: 'RecordChangeError', code: 'unsupported-certificate-type' });
    const invalid = samples.applyChange(MARKET, {
      certificateType: 'business-licence',
      subject: { unifiedSocialCreditCode: '91350203MAH44MFA0Y' },
      change: 'amended',
      fields: { status: 'suspended' },
    });
    await expect(invalid).rejects.toThrow(SampleChangeError);
    await expect(invalid).rejects.toMatchObject({
      code: 'invalid-record',
      message: expect.stringMatching(/^the changed business-licence would not match its schema: \/status /),
    });
    await expect(
      samples.applyChange(MARKET, {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: '91350203MAH44MFA0Y' },
        change: 'amended',
      }),
    ).rejects.toMatchObject({ code: 'invalid-change', message: 'an amendment needs the fields it changes' });
    // The connector refuses the date after the record was changed: the change is undone.
    await expect(
      samples.applyChange(MARKET, {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: '91350203MAH44MFA0Y' },
        change: 'revoked',
        effectiveAt: '2026-11-30',
      }),
    ).rejects.toMatchObject({ name: 'RecordChangeError', code: 'invalid-change' });

    expect((await lookupLicence('91350203MAH44MFA0Y')).record).toEqual(before.record);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(changes.seen).toEqual([]);
    await changes.stop();
  });
});

describe('applySampleChange', () => {
  const seed: FixtureEntry[] = readSeed('business-licence', sampleSeedDir);

  it('puts the record back when the event cannot be published', async () => {
    const handler = createFixtureHandler({ records: seed, schemaVersion: 1 });
    const failing = {
      department: MARKET,
      publishChange: async () => {
        throw new Error('broker unreachable');
      },
    };
    await expect(
      applySampleChange(
        { connector: failing, handlers: { 'business-licence': handler } },
        {
          certificateType: 'business-licence',
          subject: { unifiedSocialCreditCode: CREDIT_CODE },
          change: 'revoked',
        },
      ),
    ).rejects.toThrow('broker unreachable');
    const request = { subject: { unifiedSocialCreditCode: CREDIT_CODE } } as never;
    expect(await handler.lookup(request, new AbortController().signal)).toEqual(seed[0]?.record);
    // The seed the handler was made from is its own: updates never reach it.
    handler.update({ unifiedSocialCreditCode: CREDIT_CODE }, { status: 'revoked' });
    expect(seed[0]?.record.status).toBe('valid');
  });
});

describe('docs/protocol.md, "Change events"', () => {
  it('shows an event the record-change schema accepts', () => {
    const doc = readFileSync(path.join(projectRoot, 'docs', 'protocol.md'), 'utf8');
    const examples = [...doc.matchAll(/```json record-change\n([\s\S]*?)\n```/g)].map((match) =>
      JSON.parse(match[1] ?? ''),
    );
    expect(examples).toHaveLength(1);
    for (const example of examples) {
      expect(catalog.validateEnvelope('record-change', example)).toEqual({ ok: true });
      expect(
        catalog.validateSubject(example.certificateType, example.schemaVersion, example.subject),
      ).toEqual({
        ok: true,
      });
    }
  });
});
