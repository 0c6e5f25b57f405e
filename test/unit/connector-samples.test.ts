import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FixtureEntry, matchesSubject } from '../../connectors/adapters/fixture-adapter.js';
import { readSeed, SAMPLE_SCHEMA_VERSION } from '../../connectors/samples/sample-connectors.js';
import { SAMPLE_DEPARTMENTS } from '../../connectors/samples/sample-departments.js';
import { createLookupRequester, type LookupRequester } from '../../connectors/testing/lookup-requester.js';
import { createInProcessBus } from '../../gateway/bus/in-process-bus.js';
import { loadSchemaCatalog, type SchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import {
  runSampleConnector,
  type SampleConnectors,
  startAllSampleConnectors,
} from '../../gateway/demo/run-sample-connector.js';
import { sampleSeedDir, schemasDir } from '../../gateway/foundation/paths.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import type { HeartbeatEnvelope } from '../../gateway/protocol/envelopes.js';
import { topicNames } from '../../gateway/protocol/topics.js';
import { departmentIdentities, departmentIdentity } from '../support/department-keys.js';

const logger = pino({ level: 'silent' });

/** Every single-identifier subject a seed entry can be looked up by. */
function subjectsOf(entry: FixtureEntry): Array<Record<string, string>> {
  return Object.entries(entry.subject).flatMap(([name, values]) =>
    (Array.isArray(values) ? values : [values]).map((value) => ({ [name]: String(value) })),
  );
}

const identities = departmentIdentities();

describe('sample department connectors', () => {
  let catalog: SchemaCatalog;
  let bus: Bus;
  let prefix: string;
  let requester: LookupRequester;
  let samples: SampleConnectors;
  const heartbeats: HeartbeatEnvelope[] = [];

  beforeAll(async () => {
    catalog = await loadSchemaCatalog(schemasDir);
    bus = createInProcessBus({ logger });
    prefix = `s${randomBytes(4).toString('hex')}`;
    await bus.ensureTopics([topicNames(prefix).heartbeats]);
    await bus.subscribe({
      topics: [topicNames(prefix).heartbeats],
      groupId: `${prefix}.watch`,
      fromBeginning: true,
      handle: async (message) => {
        heartbeats.push(JSON.parse(message.value));
      },
    });
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

  it('cover exactly the certificate types of the catalog, each at its provider department', () => {
    const sampled = SAMPLE_DEPARTMENTS.flatMap((department) =>
      department.certificateTypes.map((certificateType) => `${certificateType}@${department.code}`),
    );
    const catalogued = catalog
      .list()
      .map((type) => `${type.certificateType}@${catalog.get(type.certificateType)?.provider}`);
    expect(sampled.sort()).toEqual(catalogued.sort());
  });

  it('announce every department with its certificate types and schema versions', async () => {
    for (const department of SAMPLE_DEPARTMENTS) {
      const heartbeat = await vi.waitFor(() => {
        const found = heartbeats.find((beat) => beat.department === department.code && beat.state === 'up');
        expect(found).toBeDefined();
        return found as HeartbeatEnvelope;
      });
      expect(heartbeat.certificateTypes).toEqual(
        department.certificateTypes.map((certificateType) => ({
          certificateType,
          schemaVersion: SAMPLE_SCHEMA_VERSION,
        })),
      );
      expect(catalog.validateEnvelope('heartbeat', heartbeat).ok).toBe(true);
    }
  });

  for (const department of SAMPLE_DEPARTMENTS) {
    for (const certificateType of department.certificateTypes) {
      it(`${department.code} answers every ${certificateType} seed record by each of its identifiers`, async () => {
        const seed = readSeed(certificateType, sampleSeedDir);
        expect(seed.length).toBeGreaterThanOrEqual(5);
        for (const entry of seed) {
          for (const subject of subjectsOf(entry)) {
            expect(catalog.validateSubject(certificateType, SAMPLE_SCHEMA_VERSION, subject)).toEqual({
              ok: true,
            });
            const reply = await requester.lookup(department.code, { certificateType, subject });
            expect(catalog.validateEnvelope('lookup-reply', reply)).toEqual({ ok: true });
            // The first seed entry holding the identifier answers (a person may hold several).
            const expected = seed.find((candidate) => matchesSubject(candidate.subject, subject));
            expect(reply).toMatchObject({ outcome: 'found', record: expected?.record });
            expect(catalog.validateRecord(certificateType, SAMPLE_SCHEMA_VERSION, reply.record)).toEqual({
              ok: true,
            });
          }
        }
      });
    }
  }

  it('answer not-found for a subject no seed holds', async () => {
    const reply = await requester.lookup('public-security', {
      certificateType: 'resident-id-card',
      subject: { residentIdNumber: '11010519491231002X' },
    });
    expect(reply.outcome).toBe('not-found');
  });

  it('refuse an unknown department with the list of known ones', async () => {
    await expect(
      runSampleConnector({
        department: 'tax',
        bus,
        topicPrefix: prefix,
        logger,
        catalog,
        signer: departmentIdentity('tax').signer,
      }),
    ).rejects.toThrow(/market-regulation, public-security, civil-affairs, natural-resources/);
  });

  it('say down for every department when stopped', async () => {
    const running = await startAllSampleConnectors({
      bus,
      topicPrefix: `${prefix}x`,
      logger,
      catalog,
      signerFor: identities.signerFor,
    });
    const ids = running.connectors.map((connector) => connector.instanceId);
    await running.stop();
    expect(new Set(ids).size).toBe(SAMPLE_DEPARTMENTS.length);
    await samples.stop();
    await vi.waitFor(() =>
      expect(
        SAMPLE_DEPARTMENTS.every((department) =>
          heartbeats.some((beat) => beat.department === department.code && beat.state === 'down'),
        ),
      ).toBe(true),
    );
  });
});
