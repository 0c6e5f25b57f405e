/**
 * Partial masking of record fields, e.g. a resident ID number `11010519491231002X` shown as
 * `110105********002X`. Characters are counted as Unicode code points, so a Chinese name `张三丰`
 * with keepStart 1 becomes `张**`. A value too short to hide anything is masked entirely; a value that
 * is not a string or number (nothing sensible to keep) is removed: masking fails closed.
 */
import type { CertificateRecord } from '../protocol/envelopes.js';

export interface MaskRule {
  keepStart: number;
  keepEnd: number;
  maskChar?: string;
}

export function maskValue(value: string, rule: MaskRule): string {
  const chars = Array.from(value);
  const maskChar = rule.maskChar ?? '*';
  if (chars.length <= rule.keepStart + rule.keepEnd) return maskChar.repeat(chars.length);
  const hidden = chars.length - rule.keepStart - rule.keepEnd;
  return (
    chars.slice(0, rule.keepStart).join('') +
    maskChar.repeat(hidden) +
    chars.slice(chars.length - rule.keepEnd).join('')
  );
}

/** `parties.*.residentIdNumber` -> ['parties', '*', 'residentIdNumber']. */
export function parseMaskPath(path: string): string[] {
  return path.split('.');
}

function maskAt(container: unknown, segments: readonly string[], rule: MaskRule): void {
  if (typeof container !== 'object' || container === null) return;
  const [head, ...rest] = segments;
  if (head === undefined) return;
  const target = container as Record<string, unknown>;
  const keys = head === '*' ? Object.keys(target) : Object.hasOwn(target, head) ? [head] : [];
  for (const key of keys) {
    if (rest.length > 0) {
      maskAt(target[key], rest, rule);
      continue;
    }
    const value = target[key];
    if (typeof value === 'string') target[key] = maskValue(value, rule);
    else if (typeof value === 'number' || typeof value === 'bigint')
      target[key] = maskValue(String(value), rule);
    else if (value !== null && value !== undefined) {
      if (Array.isArray(target)) target[Number(key)] = null;
      else delete target[key];
    }
  }
}

/** A function applying every rule to a copy of the record (the original is left untouched). */
export function createMasker(
  rules: ReadonlyMap<string, MaskRule>,
): (record: CertificateRecord) => CertificateRecord {
  const compiled = [...rules].map(([path, rule]) => ({ segments: parseMaskPath(path), rule }));
  return (record) => {
    const copy = structuredClone(record);
    for (const { segments, rule } of compiled) maskAt(copy, segments, rule);
    return copy;
  };
}

/** How a rule reads to a person, for the effective-policy view. */
export function describeMaskRule(rule: MaskRule): string {
  const parts = [
    rule.keepStart > 0 ? `first ${rule.keepStart}` : '',
    rule.keepEnd > 0 ? `last ${rule.keepEnd}` : '',
  ].filter(Boolean);
  return parts.length > 0 ? `shows only the ${parts.join(' and ')} characters` : 'fully masked';
}
