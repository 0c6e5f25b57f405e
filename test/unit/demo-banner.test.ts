/**
 * The demo banner says what the gateway really runs on: an operator who configured PostgreSQL and
 * Kafka must not be told it is the embedded demo, and a newcomer without sample connectors must be
 * told the pasted lookup needs a connector.
 */
import { describe, expect, it } from 'vitest';
import { demoBanner } from '../../gateway/demo/demo-banner.js';
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
});
