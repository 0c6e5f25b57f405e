/**
 * Handlers for the sample departments, answering from the seed files in `connectors/samples/seed/`
 * (fictitious people and companies; where that folder is, the caller says: the gateway's demo wiring
 * knows its installation). A real department swaps these for the PostgreSQL or HTTP adapter.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createFixtureHandler, type FixtureEntry } from '../adapters/fixture-adapter.js';
import type { CertificateHandler } from '../runtime/certificate-handler.js';
import { sampleDepartment } from './sample-departments.js';

/** The seed records follow version 1 of every certificate type's schema. */
export const SAMPLE_SCHEMA_VERSION = 1;

export function readSeed(certificateType: string, seedDir: string): FixtureEntry[] {
  const file = path.join(seedDir, `${certificateType}.json`);
  let entries: unknown;
  try {
    entries = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read seed data for ${certificateType} from ${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray(entries)) throw new Error(`${file} must hold a JSON array of {subject, record}`);
  return entries as FixtureEntry[];
}

export function createSampleHandlers(
  department: string,
  seedDir: string,
): Record<string, CertificateHandler> {
  return Object.fromEntries(
    sampleDepartment(department).certificateTypes.map((certificateType) => [
      certificateType,
      createFixtureHandler({
        records: readSeed(certificateType, seedDir),
        schemaVersion: SAMPLE_SCHEMA_VERSION,
      }),
    ]),
  );
}
