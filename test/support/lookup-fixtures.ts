/** Lookup bodies built from the sample connectors' seed data, so they really find records. */

import { readSeed } from '../../connectors/samples/sample-connectors.js';
import { sampleSeedDir } from '../../gateway/foundation/paths.js';
import { TEST_MATTER } from './gateway-auth.js';

export const CERTIFICATE_TYPES = [
  'business-licence',
  'food-business-licence',
  'marriage-certificate',
  'real-estate-certificate',
  'resident-id-card',
] as const;

export const PURPOSE = { matter: TEST_MATTER, caseRef: 'CASE-2026-000123', officer: 'officer-042' };

const seeds = new Map<string, ReturnType<typeof readSeed>>();
function seed(certificateType: string) {
  let entries = seeds.get(certificateType);
  if (!entries) {
    entries = readSeed(certificateType, sampleSeedDir);
    seeds.set(certificateType, entries);
  }
  return entries;
}

/** A seed entry's subject lists every identifier that finds it; a lookup gives exactly one. */
export function lookupSubject(certificateType: string, index = 0): Record<string, string> {
  const entry = seed(certificateType)[index];
  if (!entry) throw new Error(`no seed entry ${index} for ${certificateType}`);
  const [name, value] = Object.entries(entry.subject)[0] ?? [];
  if (!name) throw new Error(`seed entry ${index} of ${certificateType} has no subject`);
  return { [name]: String(Array.isArray(value) ? value[0] : value) };
}

export function lookupBody(certificateType: string, index = 0, extra: Record<string, unknown> = {}) {
  return { certificateType, subject: lookupSubject(certificateType, index), purpose: PURPOSE, ...extra };
}
