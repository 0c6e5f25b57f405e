import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSchemaAjv,
  loadSchemaCatalog,
  type SchemaCatalog,
  SchemaCatalogError,
  type Verdict,
} from '../../gateway/catalog/schema-catalog.js';
import { projectRoot, schemasDir } from '../../gateway/foundation/paths.js';
import type {
  EnvelopeName,
  HeartbeatEnvelope,
  LookupReplyEnvelope,
  LookupRequestEnvelope,
} from '../../gateway/protocol/envelopes.js';

const SEED_DIR = path.join(projectRoot, 'connectors', 'samples', 'seed');
const TYPES = [
  'business-licence',
  'food-business-licence',
  'marriage-certificate',
  'real-estate-certificate',
  'resident-id-card',
];

interface CertificateExamples {
  valid: Array<{ description: string; subject: unknown; record: unknown }>;
  invalid: Array<{ description: string; subject?: unknown; record?: unknown; expectedError: string }>;
}
interface EnvelopeExamples {
  valid: Array<{ description: string; value: unknown }>;
  invalid: Array<{ description: string; value: unknown; expectedError: string }>;
}
type SeedEntry = { subject: Record<string, string | string[]>; record: Record<string, unknown> };

const readJson = async <T>(file: string) => JSON.parse(await readFile(file, 'utf8')) as T;
const examplesOf = (type: string) =>
  readJson<CertificateExamples>(path.join(schemasDir, 'certificates', type, '1.examples.json'));
const seedOf = (type: string) => readJson<SeedEntry[]>(path.join(SEED_DIR, `${type}.json`));
const messages = (verdict: Verdict) =>
  verdict.ok ? [] : verdict.errors.map((e) => `${e.pointer} ${e.reason}`);

let catalog: SchemaCatalog;
beforeAll(async () => {
  catalog = await loadSchemaCatalog(schemasDir);
});

describe('the catalog', () => {
  it('lists every certificate type with its versions, provider and bilingual title', () => {
    const list = catalog.list();
    expect(list.map((entry) => entry.certificateType)).toEqual(TYPES);
    expect(list.find((entry) => entry.certificateType === 'marriage-certificate')).toEqual({
      certificateType: 'marriage-certificate',
      schemaVersions: [1],
      latestVersion: 1,
      provider: 'civil-affairs',
      title: { en: 'Marriage certificate', zh: '结婚证' },
    });
    expect(catalog.providers()).toEqual([
      'civil-affairs',
      'market-regulation',
      'natural-resources',
      'public-security',
    ]);
  });

  it('gives one type with its schema and record fields, and nothing for unknown types or versions', () => {
    const licence = catalog.get('business-licence');
    expect(licence).toMatchObject({
      certificateType: 'business-licence',
      schemaVersion: 1,
      provider: 'market-regulation',
    });
    expect(licence?.schema.$id).toBe('https://silobridge.dev/schemas/certificates/business-licence/1');
    expect(catalog.recordFields('business-licence', 1)).toContain('legalRepresentative');
    expect(catalog.get('business-licence', 2)).toBeUndefined();
    expect(catalog.get('fishing-licence')).toBeUndefined();
    expect(catalog.recordFields('fishing-licence', 1)).toBeUndefined();
    expect(messages(catalog.validateSubject('fishing-licence', 1, {}))).toEqual([
      " there is no certificate type 'fishing-licence' with schema version 1",
    ]);
  });

  it('explains identifier errors without echoing the rejected number', () => {
    const verdict = catalog.validateSubject('resident-id-card', 1, {
      residentIdNumber: '110105194912310021',
    });
    expect(verdict).toEqual({
      ok: false,
      errors: [
        {
          pointer: '/residentIdNumber',
          reason:
            'must be a resident ID number (GB 11643-1999) with a valid check character: the check character does not match',
        },
      ],
    });
  });

  it('serves bundled schemas that validate on their own, in a fresh validator', async () => {
    const ajv = createSchemaAjv(); // a consumer with the same formats but none of our other files
    for (const type of TYPES) {
      const validate = ajv.compile(catalog.get(type)?.bundledSchema ?? {});
      const examples = await examplesOf(type);
      for (const example of examples.valid) expect(validate(example.record), example.description).toBe(true);
      expect(validate({})).toBe(false);
    }
  });
});

describe.each(TYPES)('%s examples', (type) => {
  it('valid subjects and records pass', async () => {
    const { valid } = await examplesOf(type);
    expect(valid.length).toBeGreaterThanOrEqual(2);
    for (const example of valid) {
      expect(catalog.validateSubject(type, 1, example.subject), example.description).toEqual({ ok: true });
      expect(catalog.validateRecord(type, 1, example.record), example.description).toEqual({ ok: true });
    }
  });

  it('invalid subjects and records fail with the expected error', async () => {
    const { invalid } = await examplesOf(type);
    for (const example of invalid) {
      expect('subject' in example !== 'record' in example, `${example.description}: subject or record`).toBe(
        true,
      );
      const verdict =
        'subject' in example
          ? catalog.validateSubject(type, 1, example.subject)
          : catalog.validateRecord(type, 1, example.record);
      expect(verdict.ok, example.description).toBe(false);
      const found = messages(verdict).some((message) => message.includes(example.expectedError));
      expect(found, `${example.description}: got ${messages(verdict).join('; ')}`).toBe(true);
    }
  });

  it('cover the mistakes that matter', async () => {
    const expected = (await examplesOf(type)).invalid.map((example) => example.expectedError).join('\n');
    for (const kind of [
      'check character',
      'is required',
      'is not a known property',
      '/status must be one of',
    ]) {
      expect(expected).toContain(kind);
    }
    const schema = catalog.get(type)?.schema as { $defs: { subject: { properties: object } } };
    if ('residentIdNumber' in schema.$defs.subject.properties) expect(expected).toContain('real birth date');
  });
});

describe('seed data of the sample connectors', () => {
  it.each(TYPES)(
    '%s: 8-12 valid records, mixed statuses, each found by identifiers it holds',
    async (type) => {
      const seed = await seedOf(type);
      expect(seed.length).toBeGreaterThanOrEqual(8);
      expect(seed.length).toBeLessThanOrEqual(12);
      expect(new Set(seed.map((entry) => entry.record.status)).size).toBeGreaterThanOrEqual(2);
      for (const [i, entry] of seed.entries()) {
        expect(messages(catalog.validateRecord(type, 1, entry.record)), `record ${i}`).toEqual([]);
        // A seed subject lists every identifier that finds the record; a lookup gives one of them.
        for (const [name, values] of Object.entries(entry.subject)) {
          for (const value of [values].flat()) {
            expect(messages(catalog.validateSubject(type, 1, { [name]: value })), `subject ${i}`).toEqual([]);
            expect(JSON.stringify(entry.record), `subject ${i} ${name}`).toContain(value);
          }
        }
      }
    },
  );

  it('tell coherent stories across departments', async () => {
    const holds = async (type: string, name: string, value: string) =>
      (await seedOf(type)).some((entry) => [entry.subject[name]].flat().includes(value));
    const person = '35010219850101123X';
    for (const type of ['resident-id-card', 'marriage-certificate', 'real-estate-certificate']) {
      expect(await holds(type, 'residentIdNumber', person), type).toBe(true);
    }
    const company = '91350100M000100Y43';
    for (const type of ['business-licence', 'food-business-licence', 'real-estate-certificate']) {
      expect(await holds(type, 'unifiedSocialCreditCode', company), type).toBe(true);
    }
  });

  it('start with a business licence whose subject is a ready-made lookup (the demo banner uses it)', async () => {
    const [first] = await seedOf('business-licence');
    expect(catalog.validateSubject('business-licence', 1, first?.subject)).toEqual({ ok: true });
    expect(first?.record.status).toBe('valid');
  });
});

describe.each<EnvelopeName>(['lookup-request', 'lookup-reply', 'heartbeat', 'record-change'])(
  '%s envelope examples',
  (name) => {
    it('pass when valid and fail with the expected error when not', async () => {
      const examples = await readJson<EnvelopeExamples>(
        path.join(schemasDir, 'envelopes', `${name}.examples.json`),
      );
      for (const example of examples.valid) {
        expect(catalog.validateEnvelope(name, example.value), example.description).toEqual({ ok: true });
      }
      for (const example of examples.invalid) {
        const got = messages(catalog.validateEnvelope(name, example.value));
        expect(
          got.some((message) => message.includes(example.expectedError)),
          `${example.description}: ${got}`,
        ).toBe(true);
      }
    });
  },
);

describe('envelope types agree with the envelope schemas', () => {
  const request: LookupRequestEnvelope = {
    version: 1,
    lookupId: '0b6f0f5e-6c3f-4f57-9a36-4d0d2b0d7b61',
    certificateType: 'business-licence',
    schemaVersion: 1,
    subject: { unifiedSocialCreditCode: '91350100M000100Y43' },
    fields: ['name'],
    purpose: { matter: 'MR-0101', caseRef: '2026-000123', officer: 'officer-042' },
    requester: { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' },
    deadline: '2026-11-27T08:00:01.500Z',
  };
  const base = {
    version: 1,
    lookupId: request.lookupId,
    certificateType: request.certificateType,
    schemaVersion: 1,
    connector: { department: 'market-regulation', instanceId: 'mr-1' },
  } as const;
  const replies: LookupReplyEnvelope[] = [
    { ...base, outcome: 'found', record: { name: '福州闽江茶业有限公司' } },
    { ...base, outcome: 'not-found' },
    {
      ...base,
      outcome: 'error',
      error: { code: 'adapter-failed', message: 'The source system did not answer.' },
    },
    { ...base, outcome: 'error', error: { code: 'ambiguous-subject' } },
  ];
  const heartbeat: HeartbeatEnvelope = {
    version: 1,
    department: 'market-regulation',
    instanceId: 'mr-1',
    certificateTypes: [{ certificateType: 'business-licence', schemaVersion: 1 }],
    state: 'up',
    intervalMs: 5000,
    sentAt: '2026-11-27T08:00:00.000Z',
  };

  it('accepts typed values of each envelope', () => {
    expect(catalog.validateEnvelope('lookup-request', request)).toEqual({ ok: true });
    for (const reply of replies)
      expect(catalog.validateEnvelope('lookup-reply', reply)).toEqual({ ok: true });
    expect(catalog.validateEnvelope('heartbeat', heartbeat)).toEqual({ ok: true });
  });

  it('requires what the types require', () => {
    for (const key of Object.keys(request).filter((k) => k !== 'fields')) {
      const { [key]: _dropped, ...rest } = request as unknown as Record<string, unknown>;
      expect(messages(catalog.validateEnvelope('lookup-request', rest))).toContain(`/${key} is required`);
    }
    for (const key of Object.keys(heartbeat)) {
      const { [key]: _dropped, ...rest } = heartbeat as unknown as Record<string, unknown>;
      expect(messages(catalog.validateEnvelope('heartbeat', rest))).toContain(`/${key} is required`);
    }
  });
});

describe('loading schema files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'silobridge-schemas-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A copy of the real schemas with one file changed. */
  async function copyWith(name: string, file: string, change: (text: string) => string): Promise<string> {
    const copy = path.join(dir, name);
    await cp(schemasDir, copy, { recursive: true });
    const target = path.join(copy, file);
    await writeFile(target, change(await readFile(target, 'utf8')));
    return copy;
  }

  const brokenCases: Array<[string, string, (text: string) => string, RegExp]> = [
    ['json', 'certificates/marriage-certificate/1.schema.json', (t) => t.slice(0, -20), /is not valid JSON/],
    [
      'keyword',
      'certificates/resident-id-card/1.schema.json',
      (t) => t.replace('"maxLength": 50', '"maxlength": 50'),
      /maxlength/,
    ],
    [
      'ref',
      'certificates/business-licence/1.schema.json',
      (t) => t.replace('$defs/unifiedSocialCreditCode"', '$defs/usccCode"'),
      /usccCode|resolve/,
    ],
    [
      'format',
      'envelopes/heartbeat.schema.json',
      (t) => t.replace('"format": "date-time"', '"format": "instant"'),
      /instant/,
    ],
    [
      'meta',
      'certificates/food-business-licence/1.schema.json',
      (t) => t.replace('"provider": "market-regulation"', '"provider": "Market Regulation"'),
      /provider/,
    ],
    [
      'type',
      'certificates/real-estate-certificate/1.schema.json',
      (t) => t.replace('"certificateType": "real-estate-certificate"', '"certificateType": "real-estate"'),
      /folder name/,
    ],
    [
      'definition',
      'identifiers.schema.json',
      (t) => t.replace('"format": "resident-id-number"', '"format": "resident-id"'),
      /resident-id/,
    ],
    ['id', 'identifiers.schema.json', (t) => t.replace('schemas/identifiers"', 'schemas/ids"'), /\$id/],
  ];

  it.each(brokenCases)(
    'stops with an error naming the broken file (%s)',
    async (name, file, change, detail) => {
      const copy = await copyWith(name, file, change);
      const error = await loadSchemaCatalog(copy).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SchemaCatalogError);
      expect((error as SchemaCatalogError).file).toBe(path.join(copy, file));
      expect((error as Error).message).toContain(path.join(copy, file));
      expect((error as Error).message).toMatch(detail);
    },
  );

  it('serves the latest version by default and older ones on request', async () => {
    const copy = await copyWith('versions', 'certificates/business-licence/1.schema.json', (t) => t);
    const v2 = (await readFile(path.join(copy, 'certificates/business-licence/1.schema.json'), 'utf8'))
      .replace('business-licence/1"', 'business-licence/2"')
      .replace('"schemaVersion": 1', '"schemaVersion": 2')
      .replace(
        '"statusChangedOn": {',
        '"branchOf": { "type": "string", "maxLength": 200 },\n"statusChangedOn": {',
      );
    await writeFile(path.join(copy, 'certificates/business-licence/2.schema.json'), v2);
    const versioned = await loadSchemaCatalog(copy);
    expect(versioned.list()[0]).toMatchObject({
      certificateType: 'business-licence',
      schemaVersions: [1, 2],
      latestVersion: 2,
    });
    expect(versioned.get('business-licence')?.schemaVersion).toBe(2);
    expect(versioned.recordFields('business-licence', 2)).toContain('branchOf');
    expect(versioned.recordFields('business-licence', 1)).not.toContain('branchOf');
    expect(await readdir(path.join(copy, 'certificates/business-licence'))).toContain('1.examples.json');
  });
});
