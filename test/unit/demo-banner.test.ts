/**
 * The demo banner says what the gateway really runs on: an operator who configured PostgreSQL and
 * Kafka must not be told it is the embedded demo, and a newcomer without sample connectors must be
 * told the pasted lookup needs a connector. Its two ready-to-paste calls are well formed: a lookup,
 * and an evidence bundle for SC-0201 whose body is what docs/matters.md documents and the gateway's
 * own parser accepts, for an applicant the sample connectors find for every one of its items.
 */
import { describe, expect, it } from 'vitest';
import { readSeed } from '../../connectors/samples/sample-connectors.js';
import { loadSchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { demoBanner } from '../../gateway/demo/demo-banner.js';
import { policiesDir, sampleSeedDir, schemasDir } from '../../gateway/foundation/paths.js';
import { parseEvidenceRequest } from '../../gateway/matters/evidence-request.js';
import { loadMatterCatalogue } from '../../gateway/matters/matter-catalogue-loader.js';
import type { DemoBootstrapResult } from '../../gateway/registry/demo-bootstrap.js';

const demo: DemoBootstrapResult = {
  identities: [],
  created: [],
  banner: 'TOKEN=$(npx silobridge token ...)\n',
};
const url = 'http://127.0.0.1:8080';

function firstLine(banner: string): string {
  return banner.split('\n').find((line) => line.startsWith('SiloBridge is running')) ?? '';
}

/** The banner's `curl` commands: each from `  curl` to its last continued line, as one shell line. */
function curlCommands(banner: string): string[] {
  const commands: string[] = [];
  let current: string[] | undefined;
  for (const line of banner.split('\n')) {
    if (!current && line.startsWith('  curl ')) current = [];
    if (!current) continue;
    current.push(line.trim().replace(/\\$/, '').trim());
    if (!line.endsWith('\\')) {
      commands.push(current.join(' '));
      current = undefined;
    }
  }
  return commands;
}

/** A pasted command's URL, headers and the JSON body in its single-quoted `-d`. */
function parseCurl(command: string) {
  const body = /-d '([^']*)'$/.exec(command)?.[1];
  return {
    url: /^curl -s (\S+)/.exec(command)?.[1],
    headers: [...command.matchAll(/-H (?:"([^"]*)"|'([^']*)')/g)].map((m) => m[1] ?? m[2]),
    body: body === undefined ? undefined : (JSON.parse(body) as Record<string, unknown>),
  };
}

describe('the demo banner', () => {
  it('names the embedded database, the in-process bus and the sample connectors of the plain demo', () => {
    const banner = demoBanner(url, demo, { database: 'pglite', bus: 'in-process', sampleConnectors: true });
    expect(firstLine(banner)).toBe(
      `SiloBridge is running at ${url} (embedded database, in-process bus, sample connectors).`,
    );
    expect(banner).not.toMatch(/No sample connectors/);
  });

  it('names PostgreSQL and Kafka when they are configured, and no sample connectors when none run', () => {
    const banner = demoBanner(url, demo, { database: 'postgres', bus: 'kafka', sampleConnectors: false });
    expect(firstLine(banner)).toBe(
      `SiloBridge is running at ${url} (PostgreSQL, Kafka, no sample connectors).`,
    );
    expect(banner).not.toMatch(/embedded database|in-process bus/);
    expect(banner).toMatch(/No sample connectors run in this gateway: .*public-security connector/);
  });

  it('names each part on its own: PostgreSQL with the in-process bus, Kafka with sample connectors', () => {
    expect(
      firstLine(demoBanner(url, demo, { database: 'postgres', bus: 'in-process', sampleConnectors: true })),
    ).toContain('(PostgreSQL, in-process bus, sample connectors)');
    expect(
      firstLine(demoBanner(url, demo, { database: 'pglite', bus: 'kafka', sampleConnectors: true })),
    ).toContain('(embedded database, Kafka, sample connectors)');
  });

  it('prints a ready-to-paste lookup and, beside it, an evidence bundle for SC-0201', async () => {
    const banner = demoBanner(url, demo, { database: 'pglite', bus: 'in-process', sampleConnectors: true });
    const commands = curlCommands(banner).map(parseCurl);
    expect(commands.map((command) => command.url)).toEqual([
      `${url}/v1/lookups`,
      `${url}/v1/matters/SC-0201/evidence`,
    ]);
    for (const command of commands) {
      expect(command.headers).toEqual(['Authorization: Bearer $TOKEN', 'Content-Type: application/json']);
    }
    const [lookup, bundle] = commands.map((command) => command.body);
    expect(lookup).toMatchObject({ certificateType: 'resident-id-card', purpose: { matter: 'SC-0201' } });

    // The body docs/matters.md documents, for the same applicant and case as the lookup.
    expect(Object.keys(bundle ?? {}).sort()).toEqual(['applicant', 'caseRef', 'officer']);
    const purpose = (lookup?.purpose ?? {}) as { caseRef?: string; officer?: string };
    expect(bundle?.applicant).toEqual(lookup?.subject);
    expect(bundle?.caseRef).toBe(purpose.caseRef);
    expect(bundle?.officer).toBe(purpose.officer);

    // The gateway accepts it for SC-0201, and every item of SC-0201 finds the applicant's record.
    const catalogue = await loadMatterCatalogue(policiesDir, await loadSchemaCatalog(schemasDir));
    const matter = catalogue.get('SC-0201');
    if (!matter) throw new Error('SC-0201 is not in the sample catalogue');
    const request = parseEvidenceRequest(bundle, matter);
    const types = matter.evidence.flatMap((evidence) => evidence.anyOf);
    expect(types).toHaveLength(3);
    for (const type of types) {
      const ids = readSeed(type, sampleSeedDir).flatMap((entry) =>
        [entry.subject.residentIdNumber ?? []].flat(),
      );
      expect(ids, type).toContain(request.applicant.residentIdNumber);
    }
  });

  it('tells a gateway without sample connectors which ones the bundle needs', () => {
    const banner = demoBanner(url, demo, { database: 'postgres', bus: 'kafka', sampleConnectors: false });
    const hint = banner.slice(banner.indexOf('No sample connectors'), banner.indexOf('Then look up'));
    for (const department of ['public-security', 'natural-resources', 'civil-affairs']) {
      expect(hint).toContain(department);
    }
    expect(curlCommands(banner)).toHaveLength(2);
  });
});
