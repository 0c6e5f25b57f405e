/**
 * An independent reading of the policy files, for checking the policy engine against: what
 * docs/identity-and-policy.md says a lookup gets, derived straight from the YAML and the certificate
 * schemas, without any of gateway/policy/. Deliberately naive (linear scans, no compilation), so
 * that it is easy to check by eye against the documentation.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export interface OracleMaskRule {
  keepStart: number;
  keepEnd: number;
  maskChar?: string;
}

export interface OracleGrant {
  /** `<policy id>/<grant id>`. */
  ruleId: string;
  certificateType: string;
  matters: string[];
  fields: string[];
  mask: Record<string, OracleMaskRule>;
  /** First instant in force, and first instant no longer in force (ms since the epoch). */
  from: number;
  until: number;
}

export interface OraclePolicy {
  id: string;
  department: string;
  /** Absent: every system of the department. */
  systems?: string[];
  grants: OracleGrant[];
}

export type Expectation =
  | { allow: true; ruleId: string; fields: string[]; mask: Record<string, OracleMaskRule> }
  | { allow: false; reason: string; refusedFields?: string[] };

export interface CertificateTypeFacts {
  certificateType: string;
  /** Every record field over every schema version. */
  fields: string[];
  /** The `valid` example records of every version. */
  examples: Array<Record<string, unknown>>;
}

const DAY_MS = 86_400_000;

/** `2026-01-01` in `+08:00` -> that midnight; `endOfDay` -> the next midnight. Date-times as written. */
function instantOf(value: string, timeZone: string, endOfDay: boolean): number {
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!date) return Date.parse(value);
  const sign = timeZone.startsWith('-') ? -1 : 1;
  const offsetMinutes = sign * (Number(timeZone.slice(1, 3)) * 60 + Number(timeZone.slice(4, 6)));
  const midnightUtc = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]));
  return midnightUtc - offsetMinutes * 60_000 + (endOfDay ? DAY_MS : 0);
}

interface GrantYaml {
  id: string;
  certificateType: string;
  matters: Array<{ code: string }>;
  fields: string[];
  mask?: Record<string, OracleMaskRule>;
  validFrom?: string;
  validUntil?: string;
}

interface PolicyYaml {
  id: string;
  requester: { department: string; systems?: string[] };
  validFrom: string;
  validUntil?: string;
  timeZone?: string;
  grants: GrantYaml[];
}

export function readPolicies(dir: string): OraclePolicy[] {
  const files = readdirSync(dir)
    .filter((name) => /^[^.].*\.(ya?ml|json)$/.test(name) && !name.endsWith('.schema.json'))
    .sort();
  return files.map((name) => {
    const doc = parse(readFileSync(path.join(dir, name), 'utf8')) as PolicyYaml;
    const zone = doc.timeZone ?? '+08:00';
    const policyFrom = instantOf(doc.validFrom, zone, false);
    const policyUntil = doc.validUntil ? instantOf(doc.validUntil, zone, true) : Infinity;
    return {
      id: doc.id,
      department: doc.requester.department,
      ...(doc.requester.systems ? { systems: doc.requester.systems } : {}),
      grants: doc.grants.map((grant) => ({
        ruleId: `${doc.id}/${grant.id}`,
        certificateType: grant.certificateType,
        matters: grant.matters.map((matter) => matter.code),
        fields: grant.fields,
        mask: grant.mask ?? {},
        from: Math.max(policyFrom, grant.validFrom ? instantOf(grant.validFrom, zone, false) : -Infinity),
        until: Math.min(policyUntil, grant.validUntil ? instantOf(grant.validUntil, zone, true) : Infinity),
      })),
    };
  });
}

export function readCertificateTypes(schemasDir: string): CertificateTypeFacts[] {
  const root = path.join(schemasDir, 'certificates');
  return readdirSync(root)
    .sort()
    .map((certificateType) => {
      const dir = path.join(root, certificateType);
      const fields = new Set<string>();
      const examples: Array<Record<string, unknown>> = [];
      for (const name of readdirSync(dir)) {
        const json = JSON.parse(readFileSync(path.join(dir, name), 'utf8'));
        if (name.endsWith('.schema.json')) {
          for (const field of Object.keys(json.$defs.record.properties)) fields.add(field);
        } else if (name.endsWith('.examples.json')) {
          for (const example of json.valid) examples.push(example.record);
        }
      }
      return { certificateType, fields: [...fields], examples };
    });
}

export interface Ask {
  department: string;
  system: string;
  certificateType: string;
  matter: string;
  fields?: string[];
  at: number;
}

/** The documented decision table, top to bottom: the first row that fails is the reason. */
export function expectedDecision(policies: OraclePolicy[], ask: Ask): Expectation {
  const naming = policies.filter(
    (policy) =>
      policy.department === ask.department && (!policy.systems || policy.systems.includes(ask.system)),
  );
  if (naming.length === 0) return { allow: false, reason: 'unknown-requester' };
  const ofType = naming
    .flatMap((policy) => policy.grants)
    .filter((grant) => grant.certificateType === ask.certificateType);
  if (ofType.length === 0) return { allow: false, reason: 'type-not-allowed' };
  const forMatter = ofType.filter((grant) => grant.matters.includes(ask.matter));
  if (forMatter.length === 0) return { allow: false, reason: 'matter-not-allowed' };
  const inForce = forMatter.filter((grant) => grant.from <= ask.at && ask.at < grant.until);
  if (inForce.length > 1) throw new Error(`oracle: two grants in force for ${JSON.stringify(ask)}`);
  const grant = inForce[0];
  if (!grant) {
    const pending = forMatter.some((candidate) => ask.at < candidate.from);
    return { allow: false, reason: pending ? 'policy-not-yet-valid' : 'policy-expired' };
  }
  const refused = (ask.fields ?? []).filter((field) => !grant.fields.includes(field));
  if (refused.length > 0) return { allow: false, reason: 'field-not-allowed', refusedFields: refused };
  return { allow: true, ruleId: grant.ruleId, fields: grant.fields, mask: grant.mask };
}

function hide(value: string, rule: OracleMaskRule): string {
  const chars = [...value];
  const star = rule.maskChar ?? '*';
  if (chars.length <= rule.keepStart + rule.keepEnd) return star.repeat(chars.length);
  return (
    chars.slice(0, rule.keepStart).join('') +
    star.repeat(chars.length - rule.keepStart - rule.keepEnd) +
    chars.slice(chars.length - rule.keepEnd).join('')
  );
}

/** Masks in place the value(s) at `segments` (`*` = every item); a value that is not text or a number is removed. */
function maskPath(node: unknown, segments: string[], rule: OracleMaskRule): void {
  if (node === null || typeof node !== 'object') return;
  const holder = node as Record<string, unknown>;
  const [head, ...rest] = segments as [string, ...string[]];
  const keys = head === '*' ? Object.keys(holder) : head in holder ? [head] : [];
  for (const key of keys) {
    if (rest.length > 0) maskPath(holder[key], rest, rule);
    else if (typeof holder[key] === 'string' || typeof holder[key] === 'number')
      holder[key] = hide(String(holder[key]), rule);
    else if (holder[key] !== null && holder[key] !== undefined) {
      if (Array.isArray(holder)) holder[Number(key)] = null;
      else delete holder[key];
    }
  }
}

/** What the requester should see of `record`: the requested (else granted) fields, masked. */
export function expectedRelease(
  record: Record<string, unknown>,
  allowed: Extract<Expectation, { allow: true }>,
  requested: string[] | undefined,
): Record<string, unknown> {
  const fields = requested ?? allowed.fields;
  const released: Record<string, unknown> = structuredClone(
    Object.fromEntries(fields.filter((field) => field in record).map((field) => [field, record[field]])),
  );
  for (const [maskedPath, rule] of Object.entries(allowed.mask))
    maskPath(released, maskedPath.split('.'), rule);
  return released;
}
