import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { LookupRequest, Requester } from '../../gateway/access/lookup-terms.js';
import type { AuditEvent } from '../../gateway/audit/audit-events.js';
import { ForbiddenError, TooManyRequestsError } from '../../gateway/foundation/errors.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import {
  createPolicyEngine,
  type PolicyEngine,
  PolicyLoadError,
} from '../../gateway/policy/policy-engine.js';

const APPROVAL: Requester = { department: 'service-centre', system: 'service-centre/approval' };
// 2026-11-27 16:00 in Beijing.
const NOW = Date.parse('2026-11-27T08:00:00Z');

const FIELDS = new Map([
  [
    'business-licence',
    new Set(['unifiedSocialCreditCode', 'name', 'legalRepresentative', 'registeredCapital', 'status']),
  ],
  ['food-business-licence', new Set(['licenceNumber', 'operatorName'])],
  ['resident-id-card', new Set(['residentIdNumber', 'name', 'sex', 'birthDate', 'address'])],
  ['marriage-certificate', new Set(['certificateNumber', 'registeredOn', 'parties'])],
  ['real-estate-certificate', new Set(['certificateNumber', 'owners', 'area'])],
]);

const SERVICE_CENTRE = `
version: 1
id: service-centre
title: 政务服务中心 data-sharing powers
requester:
  department: service-centre
  systems: [service-centre/approval]
validFrom: 2026-01-01
rateLimit: { requestsPerMinute: 6, burst: 2 }
grants:
  - id: SC-BL
    certificateType: business-licence
    matters:
      - { code: SC-0101, name: 食品经营许可 Food business licence }
    fields: [unifiedSocialCreditCode, name, legalRepresentative, status]
    legalBasis: 《食品经营许可和备案管理办法》
  - id: SC-ID
    certificateType: resident-id-card
    matters:
      - { code: SC-0201, name: 个体工商户登记 Sole proprietor registration }
    fields: [name, residentIdNumber]
    mask:
      residentIdNumber: { keepStart: 6, keepEnd: 4 }
    legalBasis: 《促进个体工商户发展条例》
    validUntil: 2026-12-31
  - id: SC-MC
    certificateType: marriage-certificate
    matters:
      - { code: SC-0401, name: 生育登记 Birth registration }
    fields: [certificateNumber, registeredOn]
    legalBasis: 地方人口与计划生育条例
    validFrom: 2027-01-01
  - id: SC-RE
    certificateType: real-estate-certificate
    matters:
      - { code: SC-0301, name: 公共租赁住房申请 Public rental housing }
    fields: [certificateNumber]
    legalBasis: 《公共租赁住房管理办法》
    validUntil: 2026-06-30
`;

const CIVIL_AFFAIRS = `
version: 1
id: civil-affairs
title: 民政局
requester: { department: civil-affairs }
validFrom: 2026-01-01
rateLimit: { requestsPerMinute: 600 }
grants:
  - id: CA-ID
    certificateType: resident-id-card
    matters: [{ code: CA-0101, name: 内地居民结婚登记 }]
    fields: [name, sex, birthDate, residentIdNumber]
    legalBasis: 《婚姻登记条例》第五条
`;

interface Harness {
  dir: string;
  engine: PolicyEngine;
  audit: AuditEvent[];
  logs: string[];
  advance(ms: number): void;
  write(file: string, text: string): Promise<void>;
}

const engines: PolicyEngine[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function harness(
  files: Record<string, string> = { 'service-centre.yaml': SERVICE_CENTRE },
): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'silobridge-policies-'));
  dirs.push(dir);
  const write = (file: string, text: string) => writeFile(path.join(dir, file), text);
  for (const [file, text] of Object.entries(files)) await write(file, text);
  const audit: AuditEvent[] = [];
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  let now = NOW;
  const engine = await createPolicyEngine({
    dir,
    logger: createLogger('info', sink),
    audit: { record: async (event) => void audit.push(event) },
    now: () => now,
    certificateFields: FIELDS,
    debounceMs: 20,
  });
  engines.push(engine);
  return { dir, engine, audit, logs, write, advance: (ms) => (now += ms) };
}

function lookup(certificateType: string, matter: string, fields?: string[]): LookupRequest {
  return {
    certificateType,
    subject: { id: 'x' },
    purpose: { matter, caseRef: 'CASE-1', officer: 'officer-7' },
    ...(fields ? { fields } : {}),
  };
}

async function denial(engine: PolicyEngine, requester: Requester, request: LookupRequest) {
  const error = await engine.authorize(requester, request, 'provider').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ForbiddenError);
  const forbidden = error as ForbiddenError;
  expect(forbidden.status).toBe(403);
  return { reason: forbidden.extensions.reason, detail: forbidden.message, extensions: forbidden.extensions };
}

describe('policy decisions', () => {
  it('allows a granted lookup with the granted fields and the rule that allowed it', async () => {
    const { engine } = await harness();
    const decision = await engine.authorize(
      APPROVAL,
      lookup('business-licence', 'SC-0101'),
      'market-regulation',
    );
    expect(decision.fields).toEqual(['unifiedSocialCreditCode', 'name', 'legalRepresentative', 'status']);
    expect(decision.policyId).toBe('service-centre/SC-BL');
    expect(decision.mask).toBeUndefined();
  });

  it('allows asking for a subset of the granted fields', async () => {
    const { engine } = await harness();
    const decision = await engine.authorize(APPROVAL, lookup('business-licence', 'SC-0101', ['name']), 'p');
    expect(decision.fields).toContain('name');
  });

  it('masks what the grant masks', async () => {
    const { engine } = await harness();
    const decision = await engine.authorize(
      APPROVAL,
      lookup('resident-id-card', 'SC-0201'),
      'public-security',
    );
    expect(decision.mask?.({ name: '王小明', residentIdNumber: '11010519491231002X' })).toEqual({
      name: '王小明',
      residentIdNumber: '110105********002X',
    });
  });

  it('denies by default, naming the first thing missing', async () => {
    const { engine } = await harness({
      'service-centre.yaml': SERVICE_CENTRE,
      'civil-affairs.yaml': CIVIL_AFFAIRS,
    });
    const stranger = { department: 'tax', system: 'tax/collection' };
    expect((await denial(engine, stranger, lookup('business-licence', 'SC-0101'))).reason).toBe(
      'unknown-requester',
    );
    // Same department, but the policy names only the approval system.
    const sibling = { department: 'service-centre', system: 'service-centre/queue' };
    expect((await denial(engine, sibling, lookup('business-licence', 'SC-0101'))).reason).toBe(
      'unknown-requester',
    );

    const type = await denial(engine, APPROVAL, lookup('food-business-licence', 'SC-0101'));
    expect(type).toMatchObject({
      reason: 'type-not-allowed',
      extensions: { certificateType: 'food-business-licence' },
    });

    const matter = await denial(engine, APPROVAL, lookup('business-licence', 'CA-0101'));
    expect(matter).toMatchObject({ reason: 'matter-not-allowed', extensions: { matter: 'CA-0101' } });

    const field = await denial(
      engine,
      APPROVAL,
      lookup('business-licence', 'SC-0101', ['name', 'registeredCapital']),
    );
    expect(field).toMatchObject({
      reason: 'field-not-allowed',
      extensions: { fields: ['registeredCapital'], policyId: 'service-centre/SC-BL' },
    });

    const noPurpose = {
      ...lookup('business-licence', 'SC-0101'),
      purpose: { matter: 'SC-0101', caseRef: '', officer: 'o' },
    };
    expect((await denial(engine, APPROVAL, noPurpose)).reason).toBe('purpose-missing');
  });

  it('applies a department-wide policy to every system of the department', async () => {
    const { engine } = await harness({ 'civil-affairs.yaml': CIVIL_AFFAIRS });
    const anySystem = { department: 'civil-affairs', system: 'civil-affairs/welfare' };
    await expect(
      engine.authorize(anySystem, lookup('resident-id-card', 'CA-0101'), 'p'),
    ).resolves.toMatchObject({
      policyId: 'civil-affairs/CA-ID',
    });
  });

  it('honours validity dates as whole days in Beijing time', async () => {
    const { engine, advance } = await harness();
    expect(
      (await denial(engine, APPROVAL, lookup('real-estate-certificate', 'SC-0301'))).extensions,
    ).toMatchObject({
      reason: 'policy-expired',
      validUntil: '2026-06-30T16:00:00.000Z',
    });
    expect(
      (await denial(engine, APPROVAL, lookup('marriage-certificate', 'SC-0401'))).extensions,
    ).toMatchObject({
      reason: 'policy-not-yet-valid',
      validFrom: '2026-12-31T16:00:00.000Z',
    });
    // SC-ID is valid through 2026-12-31 in +08:00, i.e. until 2026-12-31T16:00Z.
    advance(Date.parse('2026-12-31T15:59:59Z') - NOW);
    await expect(
      engine.authorize(APPROVAL, lookup('resident-id-card', 'SC-0201'), 'p'),
    ).resolves.toBeDefined();
    advance(1000);
    expect((await denial(engine, APPROVAL, lookup('resident-id-card', 'SC-0201'))).reason).toBe(
      'policy-expired',
    );
    await expect(
      engine.authorize(APPROVAL, lookup('marriage-certificate', 'SC-0401'), 'p'),
    ).resolves.toBeDefined();
  });

  it('rate-limits per requester with a token bucket, saying when to retry', async () => {
    const { engine, advance } = await harness();
    const request = lookup('business-licence', 'SC-0101');
    await engine.authorize(APPROVAL, request, 'p');
    await engine.authorize(APPROVAL, request, 'p');
    const error = await engine.authorize(APPROVAL, request, 'p').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TooManyRequestsError);
    const limited = error as TooManyRequestsError;
    expect(limited.status).toBe(429);
    expect(limited.extensions).toMatchObject({ reason: 'rate-limited', retryAfterSeconds: 10 });
    expect(limited.headers['Retry-After']).toBe('10');
    // Denied lookups do not use up the rate.
    await denial(engine, APPROVAL, lookup('business-licence', 'XX-0000'));
    advance(10_000);
    await expect(engine.authorize(APPROVAL, request, 'p')).resolves.toBeDefined();
  });
});

describe('loading and reloading policies', () => {
  it('records the set it starts with', async () => {
    const { audit } = await harness();
    expect(audit).toEqual([
      expect.objectContaining({
        kind: 'policy-change',
        actor: 'system',
        action: 'policies.loaded',
        details: expect.objectContaining({ trigger: 'start', added: ['service-centre'] }),
      }),
    ]);
  });

  it('refuses to start on an invalid policy, saying where', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'silobridge-policies-'));
    dirs.push(dir);
    await writeFile(
      path.join(dir, 'bad.yaml'),
      SERVICE_CENTRE.replace('legalRepresentative, status]', 'legalRepresentative, taxId]'),
    );
    const error = await createPolicyEngine({
      dir,
      logger: createLogger('silent'),
      audit: { record: async () => {} },
      certificateFields: FIELDS,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyLoadError);
    expect((error as Error).message).toContain(
      "bad.yaml:15 /grants/0/fields/3: 'business-licence' records have no field 'taxId'",
    );
  });

  it('applies a valid change on reload and records it', async () => {
    const { engine, write, audit } = await harness();
    await write(
      'service-centre.yaml',
      SERVICE_CENTRE.replace(
        'matters:\n      - { code: SC-0101',
        'matters:\n      - { code: SC-0102, name: 新增 }\n      - { code: SC-0101',
      ),
    );
    const result = await engine.reload('test');
    expect(result).toMatchObject({ ok: true, changed: true });
    await expect(
      engine.authorize(APPROVAL, lookup('business-licence', 'SC-0102'), 'p'),
    ).resolves.toBeDefined();
    expect(audit.at(-1)).toMatchObject({
      kind: 'policy-change',
      action: 'policies.reloaded',
      details: { trigger: 'test', changed: ['service-centre'], added: [], removed: [] },
    });
    expect(await engine.reload('again')).toMatchObject({ ok: true, changed: false });
    expect(audit).toHaveLength(2);
  });

  it.each([
    ['a YAML syntax error', (text: string) => `${text}\n  - id: [unclosed`],
    [
      'an unknown property',
      (text: string) => text.replace('legalBasis: 《食品', 'legalBasis2: x\n    legalBasis: 《食品'),
    ],
    [
      'a mask on a field the grant does not allow',
      (text: string) => text.replace('residentIdNumber: { keepStart', 'sex: { keepStart'),
    ],
    ['an empty file', () => ''],
  ])('keeps the previous set when a reload meets %s', async (_name, breakIt) => {
    const { engine, write, audit, logs } = await harness();
    const before = engine.summary().revision;
    await write('service-centre.yaml', breakIt(SERVICE_CENTRE).replace('SC-0101', 'SC-9999'));
    const result = await engine.reload('test');
    expect(result.ok).toBe(false);
    expect(engine.summary().revision).toBe(before);
    await expect(
      engine.authorize(APPROVAL, lookup('business-licence', 'SC-0101'), 'p'),
    ).resolves.toBeDefined();
    expect((await denial(engine, APPROVAL, lookup('business-licence', 'SC-9999'))).reason).toBe(
      'matter-not-allowed',
    );
    expect(audit).toHaveLength(1);
    expect(logs.join('')).toContain('policy reload refused: the previous policies stay in force');
  });

  it('applies nothing when one of several changed files is broken', async () => {
    const { engine, write } = await harness({
      'service-centre.yaml': SERVICE_CENTRE,
      'civil-affairs.yaml': CIVIL_AFFAIRS,
    });
    await write('civil-affairs.yaml', CIVIL_AFFAIRS.replace('CA-0101', 'CA-0102'));
    await write(
      'service-centre.yaml',
      SERVICE_CENTRE.replace('requestsPerMinute: 6', 'requestsPerMinute: -6'),
    );
    expect((await engine.reload('test')).ok).toBe(false);
    const civil = { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' };
    await expect(engine.authorize(civil, lookup('resident-id-card', 'CA-0101'), 'p')).resolves.toBeDefined();
    expect((await denial(engine, civil, lookup('resident-id-card', 'CA-0102'))).reason).toBe(
      'matter-not-allowed',
    );
  });

  it('refuses two grants deciding the same matter for the same requester at the same time', async () => {
    const { engine, write } = await harness();
    const overlapping = CIVIL_AFFAIRS.replace('id: civil-affairs', 'id: sc-extra')
      .replace('department: civil-affairs', 'department: service-centre')
      .replace('certificateType: resident-id-card', 'certificateType: business-licence')
      .replace('CA-0101', 'SC-0101')
      .replace('fields: [name, sex, birthDate, residentIdNumber]', 'fields: [name]');
    await write('sc-extra.yaml', overlapping);
    const result = await engine.reload('test');
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problems[0]?.message).toMatch(
      /grants 'sc-extra\/CA-ID' \(sc-extra.yaml\) and 'service-centre\/SC-BL' both decide business-licence for matter\(s\) SC-0101/,
    );
    // Next year's list may be published ahead of time: no overlap in time, no conflict.
    await write('sc-extra.yaml', overlapping.replace('validFrom: 2026-01-01', 'validFrom: 2027-01-01'));
    await write(
      'service-centre.yaml',
      SERVICE_CENTRE.replace(
        'legalBasis: 《食品经营许可和备案管理办法》',
        'legalBasis: 《食品经营许可和备案管理办法》\n    validUntil: 2026-12-31',
      ),
    );
    expect((await engine.reload('test')).ok).toBe(true);
  });

  it('reloads when a file in the folder changes', async () => {
    const { engine, write } = await harness();
    engine.watch({ sighup: false });
    await write('civil-affairs.yaml', CIVIL_AFFAIRS);
    const civil = { department: 'civil-affairs', system: 'civil-affairs/marriage-registry' };
    await expect
      .poll(() =>
        engine.authorize(civil, lookup('resident-id-card', 'CA-0101'), 'p').then(
          () => 'allowed',
          () => 'denied',
        ),
      )
      .toBe('allowed');
  });

  it('reloads on SIGHUP', async () => {
    const { engine, write } = await harness();
    engine.watch();
    await write('civil-affairs.yaml', CIVIL_AFFAIRS);
    const before = engine.summary().revision;
    process.emit('SIGHUP', 'SIGHUP');
    await expect.poll(() => engine.summary().revision).not.toBe(before);
    expect(engine.summary().files.map((f) => f.file)).toEqual(['civil-affairs.yaml', 'service-centre.yaml']);
  });

  it('reloads on SIGHUP when it does not watch files, rather than letting the signal end the process', async () => {
    const { engine, write } = await harness();
    engine.watch({ files: false });
    await write('civil-affairs.yaml', CIVIL_AFFAIRS);
    const before = engine.summary().revision;
    expect(process.listenerCount('SIGHUP')).toBeGreaterThan(0);
    process.emit('SIGHUP', 'SIGHUP');
    await expect.poll(() => engine.summary().revision).not.toBe(before);
  });

  it('ignores editor leftovers and the schema file', async () => {
    const { engine } = await harness({
      'service-centre.yaml': SERVICE_CENTRE,
      '.service-centre.yaml.swp': 'garbage',
      'policy.schema.json': '{}',
      'README.md': '# not a policy',
    });
    expect(engine.summary().files.map((f) => f.file)).toEqual(['service-centre.yaml']);
  });
});

describe('the effective policy of a requester', () => {
  it('lists what a system may see, with masks, legal basis and whether each grant is in force', async () => {
    const { engine } = await harness({
      'service-centre.yaml': SERVICE_CENTRE,
      'civil-affairs.yaml': CIVIL_AFFAIRS,
    });
    const view = engine.effective(APPROVAL);
    expect(view.requester).toEqual(APPROVAL);
    expect(view.grants.map((g) => [g.certificateType, g.status])).toEqual([
      ['business-licence', 'in-force'],
      ['marriage-certificate', 'not-yet-valid'],
      ['real-estate-certificate', 'expired'],
      ['resident-id-card', 'in-force'],
    ]);
    expect(view.grants[3]).toMatchObject({
      ruleId: 'service-centre/SC-ID',
      matters: [{ code: 'SC-0201', name: '个体工商户登记 Sole proprietor registration' }],
      fields: ['name', 'residentIdNumber'],
      masked: { residentIdNumber: 'shows only the first 6 and last 4 characters' },
      legalBasis: '《促进个体工商户发展条例》',
      systems: ['service-centre/approval'],
      rateLimit: { requestsPerMinute: 6, burst: 2 },
    });
    expect(engine.effective({ department: 'tax', system: 'tax/collection' }).grants).toEqual([]);
    expect(engine.effective({ department: 'civil-affairs' }).grants.map((g) => g.systems)).toEqual([null]);
  });
});
