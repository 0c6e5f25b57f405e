/**
 * The evidence-bundle case of the benchmark (issue 13: "a bundle of 3 costs at most 1.5 times the
 * latency of one lookup"): matter SC-0201 of the sample catalogue (policies/matters/), whose three
 * evidence items three departments hold (an ID card from public security, a real-estate certificate
 * from natural resources, a marriage certificate from civil affairs). The applicants are the sample
 * connectors' seed subjects found by every one of the matter's certificate types, so each bundle is
 * a full one (every item `found`); the single lookup is one of the same types, for the same matter
 * and applicants.
 */
import { readSeed } from '../../connectors/samples/sample-connectors.js';
import { loadSchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { policiesDir, sampleSeedDir, schemasDir } from '../../gateway/foundation/paths.js';
import { PARTY_IDENTIFIERS } from '../../gateway/matters/matter-catalogue.js';
import { loadMatterCatalogue } from '../../gateway/matters/matter-catalogue-loader.js';

export const BUNDLE_MATTER = 'SC-0201';
/** The certificate type of the single lookups the bundle is compared with (public security's). */
export const BUNDLE_LOOKUP_TYPE = 'resident-id-card';
export const BUNDLE_PURPOSE = { caseRef: 'BENCH-2026-0201', officer: 'officer-042' };

export interface BundleFixture {
  matter: string;
  /** Every certificate type the matter names, in the catalogue's order: one bundle item each. */
  certificateTypes: string[];
  /** The identifier a SC-0201 applicant gives (a person: residentIdNumber). */
  identifier: string;
  /** Values of `identifier` that find a seed record of every one of `certificateTypes`. */
  applicants: string[];
}

/** SC-0201 as the sample catalogue describes it, with the applicants the sample connectors know. */
export async function bundleFixture(): Promise<BundleFixture> {
  const catalogue = await loadMatterCatalogue(policiesDir, await loadSchemaCatalog(schemasDir));
  const matter = catalogue.get(BUNDLE_MATTER);
  if (!matter) throw new Error(`the sample matter catalogue has no ${BUNDLE_MATTER}`);
  const certificateTypes = matter.evidence.flatMap((evidence) => evidence.anyOf);
  if (!certificateTypes.includes(BUNDLE_LOOKUP_TYPE)) {
    throw new Error(`${BUNDLE_MATTER} no longer names ${BUNDLE_LOOKUP_TYPE}`);
  }
  const identifier = PARTY_IDENTIFIERS[matter.party][0] ?? '';
  const found = certificateTypes.map(
    (type) =>
      new Set(
        readSeed(type, sampleSeedDir).flatMap((entry) =>
          [entry.subject[identifier] ?? []].flat().map((value) => String(value)),
        ),
      ),
  );
  const applicants = [...(found[0] ?? [])].filter((value) => found.every((set) => set.has(value))).sort();
  if (applicants.length === 0) {
    throw new Error(`no seed ${identifier} is found by every certificate type of ${BUNDLE_MATTER}`);
  }
  return { matter: BUNDLE_MATTER, certificateTypes, identifier, applicants };
}

/** The evidence request of one bundle: `POST /v1/matters/SC-0201/evidence`. */
export function bundleBody(fixture: BundleFixture, applicant: string) {
  return { applicant: { [fixture.identifier]: applicant }, ...BUNDLE_PURPOSE };
}

/** The single lookup it is compared with: one of the matter's types, same applicant and purpose. */
export function matterLookupBody(fixture: BundleFixture, applicant: string) {
  return {
    certificateType: BUNDLE_LOOKUP_TYPE,
    subject: { [fixture.identifier]: applicant },
    purpose: { matter: fixture.matter, ...BUNDLE_PURPOSE },
  };
}
