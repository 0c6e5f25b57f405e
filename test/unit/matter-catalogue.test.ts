/**
 * The matter catalogue as its maintainers meet it: the sample catalogue in policies/matters/ loads,
 * and a mistake in a file stops start-up with the file, line and field named.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchemaCatalog, type SchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { loadConfig } from '../../gateway/foundation/config.js';
import { policiesDir, schemasDir } from '../../gateway/foundation/paths.js';
import { startGateway } from '../../gateway/gateway.js';
import {
  compileMatterCatalogue,
  loadMatterCatalogue,
  MatterCatalogueError,
} from '../../gateway/matters/matter-catalogue-loader.js';
import { writeTestPolicy } from '../support/gateway-auth.js';

let catalog: SchemaCatalog;
let dir: string;
beforeAll(async () => {
  catalog = await loadSchemaCatalog(schemasDir);
  dir = await mkdtemp(path.join(tmpdir(), 'silobridge-matters-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const GOOD = `version: 1
matters:
  - code: SC-0201
    name: { zh: 个体工商户设立登记, en: Registration of an individual business }
    party: person
    legalBasis: 《促进个体工商户发展条例》
    evidence:
      - id: identity
        name: { zh: 身份证, en: Identity card }
        required: true
        anyOf: [resident-id-card]
`;

async function problemsOf(files: Record<string, string>) {
  const result = await compileMatterCatalogue(
    Object.entries(files).map(([file, text]) => ({ file, text })),
    catalog,
  );
  if (result.ok) throw new Error('expected the catalogue to be refused');
  return result.problems;
}

describe('the sample catalogue', () => {
  it('loads from policies/matters/, every matter with its evidence mapped to lookup subjects', async () => {
    const catalogue = await loadMatterCatalogue(policiesDir, catalog);
    const codes = catalogue.list().map((matter) => matter.code);
    expect(codes).toEqual(expect.arrayContaining(['SC-0101', 'SC-0201', 'NR-0101', 'PS-0102']));
    const individualBusiness = catalogue.get('SC-0201');
    expect(individualBusiness?.party).toBe('person');
    const providers = individualBusiness?.evidence.flatMap((item) =>
      item.anyOf.map((type) => catalog.get(type)?.provider),
    );
    expect(new Set(providers).size).toBe(3);
    expect(individualBusiness?.subjectIdentifiers.get('real-estate-certificate')).toEqual([
      'residentIdNumber',
    ]);
    expect(catalogue.get('NR-0102')?.subjectIdentifiers.get('business-licence')).toEqual([
      'unifiedSocialCreditCode',
    ]);
  });

  it('is an empty catalogue when the policies folder has no matters folder', async () => {
    expect((await loadMatterCatalogue(dir, catalog)).list()).toEqual([]);
  });
});

describe('a catalogue file with a mistake', () => {
  it('names the file, the line and the field the schema refuses', async () => {
    const problems = await problemsOf({
      'a.yaml': GOOD.replace('party: person', 'party: citizen').replace('required: true', 'required: yes'),
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: 'a.yaml', line: 5, pointer: '/matters/0/party' }),
        expect.objectContaining({ file: 'a.yaml', line: 10, pointer: '/matters/0/evidence/0/required' }),
      ]),
    );
  });

  it('refuses unknown certificate types, types the party cannot be looked up by, and duplicates', async () => {
    const problems = await problemsOf({
      'a.yaml': GOOD,
      'b.yaml': GOOD.replace('[resident-id-card]', '[resident-id-card, business-licence, driving-licence]'),
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          file: 'b.yaml',
          line: 3,
          pointer: '/matters/0/code',
          message: "matter 'SC-0201' is also in a.yaml",
        }),
        expect.objectContaining({
          file: 'b.yaml',
          pointer: '/matters/0/evidence/0/anyOf/1',
          message: expect.stringContaining('which a person applicant (residentIdNumber) does not give'),
        }),
        expect.objectContaining({
          file: 'b.yaml',
          pointer: '/matters/0/evidence/0/anyOf/2',
          message: expect.stringContaining("unknown certificate type 'driving-licence'"),
        }),
      ]),
    );
  });

  it('reports YAML that does not parse with its line', async () => {
    const problems = await problemsOf({ 'a.yaml': `${GOOD}  - code: [unclosed\n` });
    expect(problems[0]).toMatchObject({ file: 'a.yaml', line: expect.any(Number) });
  });

  it('stops the gateway from starting, naming file, line and field', async () => {
    const folder = path.join(dir, 'bad');
    await mkdir(path.join(folder, 'policies', 'matters'), { recursive: true });
    await writeTestPolicy(path.join(folder, 'policies'));
    await writeFile(
      path.join(folder, 'policies', 'matters', 'centre.yaml'),
      GOOD.replace('anyOf: [resident-id-card]', 'anyOf: [resident-id-card]\n        note: extra'),
    );
    const started = startGateway(
      loadConfig({
        PORT: '0',
        SILOBRIDGE_DATA_DIR: folder,
        SILOBRIDGE_POLICIES_DIR: path.join(folder, 'policies'),
        SILOBRIDGE_DEMO_IDENTITIES: 'false',
        SILOBRIDGE_SAMPLE_CONNECTORS: 'false',
        SILOBRIDGE_POLICY_WATCH: 'false',
      }),
      { logger: pino({ level: 'silent' }) },
    );
    await expect(started).rejects.toBeInstanceOf(MatterCatalogueError);
    await expect(started).rejects.toThrow(
      'centre.yaml:12 /matters/0/evidence/0/note: is not a known property',
    );
  }, 60_000);
});
