/**
 * Object-level authorisation as a generated matrix: every requester system the policies name (plus
 * systems no policy names) x every certificate type of the catalog x every granted matter (plus one
 * nobody is granted) x every record field (plus an unknown one, plus "no fields": everything granted),
 * before, during and after the policies' validity, and at each grant's first and last instant. The
 * expected decision comes from test/support/policy-oracle.ts, which reads the YAML itself; the
 * engine (`authorize`) must agree on allow or deny, the reason, the refused fields, the rule, the
 * fields released and the masking of every example record. Then a sample of the same cells goes
 * through HTTP to an embedded gateway with the sample connectors, on the real policies folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSeed } from '../../connectors/samples/sample-connectors.js';
import type { PolicyDecision } from '../../gateway/access/lookup-terms.js';
import { loadConfig } from '../../gateway/foundation/config.js';
import { GatewayError } from '../../gateway/foundation/errors.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { policiesDir, sampleSeedDir, schemasDir } from '../../gateway/foundation/paths.js';
import { type RunningGateway, startGateway } from '../../gateway/gateway.js';
import { readKeyFile } from '../../gateway/identity/key-files.js';
import { generateKeyPair, privateSigningKey } from '../../gateway/identity/system-keys.js';
import { signToken } from '../../gateway/identity/token-signer.js';
import { createPolicyEngine, type PolicyEngine } from '../../gateway/policy/policy-engine.js';
import { DEMO_SYSTEMS, demoKeyFile } from '../../gateway/registry/demo-bootstrap.js';
import { lookupSubject } from '../support/lookup-fixtures.js';
import {
  type Ask,
  type Expectation,
  expectedDecision,
  expectedRelease,
  readCertificateTypes,
  readPolicies,
} from '../support/policy-oracle.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const policies = readPolicies(policiesDir);
const types = readCertificateTypes(schemasDir);

/** A system in a department some policy names, that no policy lists; and one of a department none names. */
const UNNAMED_SYSTEMS = ['service-centre/front-desk-kiosk', 'tax-bureau/e-filing'];
const named = policies.flatMap((policy) => policy.systems ?? [`${policy.department}/any-system`]);
const REQUESTERS = [...new Set([...named, ...UNNAMED_SYSTEMS])];
const UNGRANTED_MATTER = 'XX-9999';
const GRANTED_MATTERS = [
  ...new Set(policies.flatMap((policy) => policy.grants.flatMap((grant) => grant.matters))),
];
const MATTERS = [...GRANTED_MATTERS, UNGRANTED_MATTER];
const UNKNOWN_FIELD = 'favouriteColour';

interface Cell {
  system: string;
  certificateType: string;
  matter: string;
  /** Undefined: no `fields` in the request (every granted field). */
  fields?: string[];
}

function* cells(): Generator<Cell> {
  for (const system of REQUESTERS)
    for (const type of types)
      for (const matter of MATTERS)
        for (const field of [undefined, ...type.fields, UNKNOWN_FIELD])
          yield {
            system,
            certificateType: type.certificateType,
            matter,
            ...(field ? { fields: [field] } : {}),
          };
}

const departmentOf = (system: string) => system.split('/')[0] as string;
const askOf = (cell: Cell, at: number): Ask => ({ ...cell, department: departmentOf(cell.system), at });
const purpose = (matter: string) => ({ matter, caseRef: 'CASE-2026-000777', officer: 'officer-042' });

/** What the engine said, in the oracle's terms, plus what it released of each example record. */
type Observed =
  | { allow: true; ruleId?: string; fields: string[]; released: Array<Record<string, unknown>> }
  | { allow: false; reason: string; refusedFields?: string[]; status: number };

/** Projection and masking as the lookup service applies a decision (gateway/lookups/lookup-service.ts). */
function apply(decision: PolicyDecision, record: Record<string, unknown>, requested?: string[]) {
  const allowed = decision.fields ?? Object.keys(record);
  const fields = requested ? requested.filter((field) => allowed.includes(field)) : allowed;
  const visible = Object.fromEntries(fields.filter((f) => f in record).map((f) => [f, record[f]]));
  return decision.mask ? decision.mask(visible) : visible;
}

async function observe(engine: PolicyEngine, cell: Cell): Promise<Observed> {
  const examples = types.find((type) => type.certificateType === cell.certificateType)?.examples ?? [];
  try {
    const decision = await engine.authorize(
      { department: departmentOf(cell.system), system: cell.system },
      {
        certificateType: cell.certificateType,
        subject: { placeholder: 'x' },
        purpose: purpose(cell.matter),
        ...(cell.fields ? { fields: cell.fields } : {}),
      },
      'provider',
    );
    return {
      allow: true,
      ...(decision.policyId ? { ruleId: decision.policyId } : {}),
      fields: [...(decision.fields ?? [])].sort(),
      released: examples.map((record) => apply(decision, record, cell.fields)),
    };
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    const { reason, fields } = error.extensions as { reason: string; fields?: string[] };
    return { allow: false, reason, status: error.status, ...(fields ? { refusedFields: fields } : {}) };
  }
}

function predicted(expectation: Expectation, cell: Cell): Observed {
  if (!expectation.allow) {
    return {
      allow: false,
      reason: expectation.reason,
      status: 403,
      ...(expectation.refusedFields ? { refusedFields: expectation.refusedFields } : {}),
    };
  }
  const examples = types.find((type) => type.certificateType === cell.certificateType)?.examples ?? [];
  return {
    allow: true,
    ruleId: expectation.ruleId,
    fields: [...expectation.fields].sort(),
    released: examples.map((record) => expectedRelease(record, expectation, cell.fields)),
  };
}

async function engineAt(clock: { now: number }): Promise<PolicyEngine> {
  return createPolicyEngine({
    dir: policiesDir,
    logger: createLogger('silent'),
    audit: { record: async () => {} },
    now: () => clock.now,
  });
}

const grants = policies.flatMap((policy) => policy.grants);
const firstFrom = Math.min(...grants.map((grant) => grant.from));
const finiteUntils = grants.map((grant) => grant.until).filter(Number.isFinite);
const lastUntil = Math.max(...finiteUntils);
const cellCount = [...cells()].length;

/**
 * Each phase starts at an instant and moves the clock on a minute per cell, so that the rate limiter
 * (every policy allows at least one lookup a minute) never decides; the oracle is asked at that same
 * instant, so a phase crossing a boundary is still checked right.
 */
const PHASES = [
  { name: 'before every policy', start: firstFrom - cellCount * MINUTE - DAY },
  { name: 'in force', start: firstFrom + Math.floor((lastUntil - firstFrom) / 2) },
  ...(finiteUntils.length > 0 ? [{ name: 'after the last policy ends', start: lastUntil + DAY }] : []),
];

describe('the authorisation matrix, from policies/ and schemas/', () => {
  let checked = 0;
  afterAll(() => {
    console.info(
      `[authorisation-matrix] ${checked} engine cells checked: ${REQUESTERS.length} requesters x ${types.length} types x ${MATTERS.length} matters x (fields of the type + unknown + none), ${PHASES.length} phases, plus boundary cells`,
    );
  });

  it('the matrix covers what it should', () => {
    expect(REQUESTERS.length).toBeGreaterThanOrEqual(named.length + 2);
    expect(GRANTED_MATTERS.length).toBeGreaterThan(5);
    expect(types.map((type) => type.certificateType)).toContain('resident-id-card');
    for (const type of types) expect(type.examples.length, type.certificateType).toBeGreaterThan(0);
  });

  for (const phase of PHASES) {
    it(`agrees with the oracle on every cell, ${phase.name}`, async () => {
      const clock = { now: phase.start };
      const engine = await engineAt(clock);
      const mismatches: string[] = [];
      const reasons = new Map<string, number>();
      try {
        for (const cell of cells()) {
          clock.now += MINUTE;
          const expected = predicted(expectedDecision(policies, askOf(cell, clock.now)), cell);
          const actual = await observe(engine, cell);
          const key = actual.allow ? 'allowed' : actual.reason;
          reasons.set(key, (reasons.get(key) ?? 0) + 1);
          checked += 1;
          try {
            expect(actual).toEqual(expected);
          } catch {
            mismatches.push(`${JSON.stringify(cell)} at ${new Date(clock.now).toISOString()}:
  engine ${JSON.stringify(actual)}
  oracle ${JSON.stringify(expected)}`);
          }
        }
      } finally {
        await engine.close();
      }
      console.info(`[authorisation-matrix] ${phase.name}: ${JSON.stringify(Object.fromEntries(reasons))}`);
      expect(mismatches.slice(0, 5).join('\n'), `${mismatches.length} cells disagree`).toBe('');
      if (phase.name === 'in force') {
        // Every row of the decision table was reached, so the matrix is not vacuous.
        for (const reason of [
          'allowed',
          'unknown-requester',
          'type-not-allowed',
          'matter-not-allowed',
          'field-not-allowed',
        ])
          expect(reasons.get(reason), reason).toBeGreaterThan(0);
      }
    });
  }

  it("agrees at each grant's first and last instant, and on either side of them", async () => {
    const instants = new Set<number>();
    for (const grant of grants) {
      for (const edge of [grant.from, grant.until].filter(Number.isFinite)) {
        instants.add(edge - 1);
        instants.add(edge);
      }
    }
    const mismatches: string[] = [];
    const reasons = new Set<string>();
    for (const at of [...instants].sort((a, b) => a - b)) {
      // A fresh engine per instant: the clock stands still, and each grant is asked once per matter.
      const engine = await engineAt({ now: at });
      try {
        for (const policy of policies)
          for (const grant of policy.grants)
            for (const matter of grant.matters)
              for (const system of policy.systems ?? [`${policy.department}/any-system`]) {
                const cell: Cell = { system, certificateType: grant.certificateType, matter };
                const expected = predicted(expectedDecision(policies, askOf(cell, at)), cell);
                const actual = await observe(engine, cell);
                reasons.add(actual.allow ? 'allowed' : actual.reason);
                checked += 1;
                if (JSON.stringify(actual) !== JSON.stringify(expected))
                  mismatches.push(
                    `${JSON.stringify(cell)} at ${new Date(at).toISOString()}: engine ${JSON.stringify(actual)}, oracle ${JSON.stringify(expected)}`,
                  );
              }
      } finally {
        await engine.close();
      }
    }
    expect(mismatches.slice(0, 5).join('\n'), `${mismatches.length} cells disagree`).toBe('');
    expect([...reasons].sort()).toEqual(['allowed', 'policy-expired', 'policy-not-yet-valid']);
  });
});

describe('a sample of the matrix end to end, through HTTP', () => {
  let dataDir: string;
  let gateway: RunningGateway;
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-authz-matrix-'));
    gateway = await startGateway(
      loadConfig({
        PORT: '0',
        SILOBRIDGE_DATA_DIR: dataDir,
        SILOBRIDGE_POLICIES_DIR: policiesDir,
        SILOBRIDGE_DEMO_IDENTITIES: 'true',
        SILOBRIDGE_SAMPLE_CONNECTORS: 'true',
      }),
      { logger: pino({ level: 'silent' }) },
    );
    const tokenOf = async (systemId: string, privateJwk: unknown) =>
      signToken({
        systemId,
        key: await privateSigningKey(privateJwk),
        audience: 'silobridge',
        lifetimeSeconds: 600,
      });
    const admin = await tokenOf(
      'data-office/gateway-admin',
      await readKeyFile(demoKeyFile(dataDir, 'data-office/gateway-admin')),
    );
    const asAdmin = (route: string, body: unknown) =>
      fetch(`${gateway.url}${route}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin}` },
        body: JSON.stringify(body),
      });
    const demo = new Set(DEMO_SYSTEMS.map((system) => system.id));
    for (const system of REQUESTERS) {
      if (demo.has(system)) {
        tokens.set(system, await tokenOf(system, await readKeyFile(demoKeyFile(dataDir, system))));
        continue;
      }
      const department = departmentOf(system);
      const known = await fetch(`${gateway.url}/v1/departments/${department}`, {
        headers: { Authorization: `Bearer ${admin}` },
      });
      if (known.status === 404) {
        const created = await asAdmin('/v1/departments', {
          code: department,
          nameEn: department,
          nameZh: '测试',
        });
        expect(created.status, await created.text()).toBe(201);
      }
      const key = await generateKeyPair();
      const created = await asAdmin('/v1/systems', {
        id: system,
        name: `matrix requester ${system}`,
        roles: ['lookup'],
        keys: [{ jwk: key.publicJwk }],
      });
      expect(created.status, await created.text()).toBe(201);
      tokens.set(system, await tokenOf(system, key.privateJwk));
    }
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * Every (requester, type, matter) without `fields`; and for each requester and type with a grant,
   * its first matter with a granted field (a masked one if any), a field it does not grant, and an
   * unknown field. Well under every policy's burst.
   */
  function sample(): Cell[] {
    const chosen: Cell[] = [];
    for (const system of REQUESTERS)
      for (const type of types) {
        for (const matter of MATTERS) chosen.push({ system, certificateType: type.certificateType, matter });
        const ask = (matter: string): Ask =>
          askOf({ system, certificateType: type.certificateType, matter }, Date.now());
        const matter = GRANTED_MATTERS.find((code) => expectedDecision(policies, ask(code)).allow);
        if (!matter) continue;
        const allowed = expectedDecision(policies, ask(matter));
        if (!allowed.allow) continue;
        const masked = Object.keys(allowed.mask)[0]?.split('.')[0];
        const notGranted = type.fields.find((field) => !allowed.fields.includes(field));
        for (const field of [masked ?? allowed.fields[0], notGranted, UNKNOWN_FIELD])
          if (field) chosen.push({ system, certificateType: type.certificateType, matter, fields: [field] });
      }
    return chosen;
  }

  it('answers as the oracle says: 200 with the projected and masked seed record, 403 with the reason, 400 for an unknown field', async () => {
    const cellsToCall = sample();
    const mismatches: string[] = [];
    const statuses = new Map<number, number>();
    for (const cell of cellsToCall) {
      const seed = readSeed(cell.certificateType, sampleSeedDir)[0]?.record as Record<string, unknown>;
      const response = await fetch(`${gateway.url}/v1/lookups`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: `Bearer ${tokens.get(cell.system)}`,
        },
        body: JSON.stringify({
          certificateType: cell.certificateType,
          subject: lookupSubject(cell.certificateType),
          purpose: purpose(cell.matter),
          ...(cell.fields ? { fields: cell.fields } : {}),
        }),
      });
      // biome-ignore lint/suspicious/noExplicitAny: problem or lookup JSON; compared field by field below.
      const body = (await response.json()) as Record<string, any>;
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const expectation = expectedDecision(policies, askOf(cell, Date.now()));
      let want: unknown;
      let got: unknown;
      if (cell.fields?.includes(UNKNOWN_FIELD)) {
        // The lookup service refuses a field the schema does not have before it asks the policy.
        want = { status: 400, type: 'https://silobridge.dev/problems/unknown-field' };
        got = { status: response.status, type: body.type };
      } else if (!expectation.allow) {
        want = {
          status: 403,
          reason: expectation.reason,
          ...(expectation.refusedFields ? { fields: expectation.refusedFields } : {}),
        };
        got = {
          status: response.status,
          reason: body.reason,
          ...(body.fields ? { fields: body.fields } : {}),
        };
      } else {
        want = { status: 200, record: expectedRelease(seed, expectation, cell.fields) };
        got = { status: response.status, record: body.record ?? body };
      }
      try {
        expect(got).toEqual(want);
      } catch {
        mismatches.push(`${JSON.stringify(cell)}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
    }
    console.info(
      `[authorisation-matrix] ${cellsToCall.length} cells through HTTP: ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(mismatches.slice(0, 5).join('\n'), `${mismatches.length} of ${cellsToCall.length} disagree`).toBe(
      '',
    );
    expect(statuses.get(200)).toBeGreaterThan(10);
    expect(statuses.get(403)).toBeGreaterThan(100);
  }, 120_000);
});
