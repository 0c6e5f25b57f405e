/**
 * What a policy schema cannot check: systems belong to the requester department, masks apply to
 * granted fields, validity windows are not empty, certificate types and fields exist, ids are unique,
 * and no two grants decide the same (requester, certificate type, matter) at the same time. Also
 * turns documents into compiled grants: instants, sets and mask functions.
 */
import type { CertificateFields } from './certificate-fields.js';
import { createMasker, type MaskRule, parseMaskPath } from './masking.js';
import type {
  CompiledGrant,
  CompiledPolicy,
  PolicyDocument,
  PolicyProblem,
  PolicySource,
} from './policy-types.js';

export const DEFAULT_TIME_ZONE = '+08:00';
const DAY_MS = 86_400_000;

/** Start of the day (`date`) or the instant (`date-time`); `endOfDay` turns a date into the next midnight. */
export function instant(value: string, timeZone: string, endOfDay: boolean): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    return Date.parse(`${value}T00:00:00${timeZone}`) + (endOfDay ? DAY_MS : 0);
  }
  return Date.parse(value);
}

/** A document that passed the schema, with a way to find the line of any of its nodes. */
export interface ParsedPolicy {
  source: PolicySource;
  document: PolicyDocument;
  /** Line of the node at a JSON path, for problem reports. */
  lineAt: (pathSegments: Array<string | number>) => number | undefined;
}

export function compileDocument(
  { source, document, lineAt }: ParsedPolicy,
  options: { certificateFields?: CertificateFields },
  problems: PolicyProblem[],
): { policy: CompiledPolicy; grants: CompiledGrant[] } {
  const report = (segments: Array<string | number>, message: string) =>
    problems.push({
      file: source.file,
      line: lineAt(segments),
      pointer: `/${segments.join('/')}`,
      message,
    });
  const timeZone = document.timeZone ?? DEFAULT_TIME_ZONE;
  const policy: CompiledPolicy = {
    document,
    file: source.file,
    from: instant(document.validFrom, timeZone, false),
    until:
      document.validUntil === undefined
        ? Number.POSITIVE_INFINITY
        : instant(document.validUntil, timeZone, true),
  };
  if (policy.until <= policy.from) report(['validUntil'], 'must be after validFrom');
  const { department, systems } = document.requester;
  systems?.forEach((system, index) => {
    if (!system.startsWith(`${department}/`)) {
      report(
        ['requester', 'systems', index],
        `system '${system}' is not a system of department '${department}'`,
      );
    }
  });

  const grantIds = new Set<string>();
  const catalog = options.certificateFields;
  const grants = document.grants.map((grant, index): CompiledGrant => {
    const at = (...segments: Array<string | number>) => ['grants', index, ...segments];
    if (grantIds.has(grant.id)) report(at('id'), `grant id '${grant.id}' is used twice in this policy`);
    grantIds.add(grant.id);
    const matters = new Map<string, string>();
    grant.matters.forEach((matter, m) => {
      if (matters.has(matter.code))
        report(at('matters', m, 'code'), `matter '${matter.code}' is listed twice`);
      matters.set(matter.code, matter.name);
    });
    const known = catalog?.get(grant.certificateType);
    if (catalog && !known) {
      report(
        at('certificateType'),
        `unknown certificate type '${grant.certificateType}' (not in schemas/certificates)`,
      );
    }
    grant.fields.forEach((field, f) => {
      if (known && !known.has(field)) {
        report(at('fields', f), `'${grant.certificateType}' records have no field '${field}'`);
      }
    });
    const rules = new Map<string, MaskRule>(Object.entries(grant.mask ?? {}));
    for (const maskPath of rules.keys()) {
      const field = parseMaskPath(maskPath)[0] ?? '';
      if (!grant.fields.includes(field)) {
        report(
          at('mask', maskPath),
          `masks '${field}', which this grant does not allow: add it to fields or remove the mask`,
        );
      }
    }
    const from = Math.max(
      policy.from,
      grant.validFrom ? instant(grant.validFrom, timeZone, false) : -Infinity,
    );
    const until = Math.min(
      policy.until,
      grant.validUntil ? instant(grant.validUntil, timeZone, true) : Infinity,
    );
    if (until <= from)
      report(at('validUntil'), "the grant is never in force (check its and the policy's validity)");
    return {
      policy,
      document: grant,
      ruleId: `${document.id}/${grant.id}`,
      department,
      ...(systems ? { systems: new Set(systems) } : {}),
      matters,
      fields: [...grant.fields],
      fieldSet: new Set(grant.fields),
      ...(rules.size > 0 ? { mask: createMasker(rules) } : {}),
      from,
      until,
    };
  });
  return { policy, grants };
}

function scopesOverlap(a: CompiledGrant, b: CompiledGrant): boolean {
  if (a.department !== b.department) return false;
  if (!a.systems || !b.systems) return true;
  return [...a.systems].some((system) => b.systems?.has(system));
}

export function checkAcrossFiles(
  parsed: ParsedPolicy[],
  compiled: Array<{ policy: CompiledPolicy; grants: CompiledGrant[] }>,
  problems: PolicyProblem[],
): void {
  const ids = new Map<string, string>();
  for (const { source, document, lineAt } of parsed) {
    const other = ids.get(document.id);
    if (other) {
      problems.push({
        file: source.file,
        line: lineAt(['id']),
        pointer: '/id',
        message: `policy id '${document.id}' is also used by ${other}`,
      });
    }
    ids.set(document.id, source.file);
  }
  const grants = compiled.flatMap((c) => c.grants);
  for (let i = 0; i < grants.length; i += 1) {
    for (let j = i + 1; j < grants.length; j += 1) {
      const a = grants[i] as CompiledGrant;
      const b = grants[j] as CompiledGrant;
      if (a.document.certificateType !== b.document.certificateType || !scopesOverlap(a, b)) continue;
      if (a.until <= b.from || b.until <= a.from) continue;
      const shared = [...a.matters.keys()].filter((code) => b.matters.has(code));
      if (shared.length === 0) continue;
      problems.push({
        file: b.policy.file,
        message:
          `grants '${a.ruleId}' (${a.policy.file}) and '${b.ruleId}' both decide ${a.document.certificateType} ` +
          `for matter(s) ${shared.join(', ')} for the same requester at the same time: exactly one grant must decide a lookup`,
      });
    }
  }
}
