/**
 * What the demo prints once it is ready: what the gateway runs on, the demo systems, how to get a
 * token, and a lookup a newcomer can paste into a shell. The subject comes from the sample connectors'
 * seed data and the matter from the service centre's sample policy, so the lookup really finds a
 * record, and shows the policy at work (the ID number comes back masked).
 */
import type { Bus } from '../protocol/bus.js';
import type { DemoBootstrapResult } from '../registry/demo-bootstrap.js';
import type { Database } from '../storage/database.js';

const DEMO_LOOKUP = {
  certificateType: 'resident-id-card',
  subject: { residentIdNumber: '35010219850101123X' },
  purpose: { matter: 'SC-0201', caseRef: 'DEMO-2026-0001', officer: 'demo-officer' },
};
/** The department whose sample connector answers DEMO_LOOKUP. */
const DEMO_DEPARTMENT = 'public-security';

/** What this gateway really runs on: the banner must not promise the embedded demo when it is not. */
export interface BannerSetup {
  database: Database['kind'];
  bus: Bus['kind'];
  /** Whether the sample connectors run inside this gateway process. */
  sampleConnectors: boolean;
}

export function demoBanner(url: string, demo: DemoBootstrapResult, setup: BannerSetup): string {
  const connectorHint = setup.sampleConnectors
    ? []
    : [
        `No sample connectors run in this gateway: the lookup below needs the ${DEMO_DEPARTMENT} connector`,
        `running on the same bus (silobridge connector --department ${DEMO_DEPARTMENT} ...).`,
        '',
      ];
  return [
    '',
    `SiloBridge is running at ${url} (${describeSetup(setup)}).`,
    '',
    demo.banner,
    ...connectorHint,
    'Then look up a resident ID card for the matter SC-0201 (the policy masks the number):',
    '',
    `  curl -s ${url}/v1/lookups -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
    `    -d '${JSON.stringify(DEMO_LOOKUP)}'`,
    '',
    `Certificate types: ${url}/v1/catalog    Readiness: ${url}/readyz    Stop: Ctrl-C`,
    '',
  ].join('\n');
}

function describeSetup(setup: BannerSetup): string {
  const database = setup.database === 'postgres' ? 'PostgreSQL' : 'embedded database';
  const bus = setup.bus === 'kafka' ? 'Kafka' : 'in-process bus';
  const connectors = setup.sampleConnectors ? 'sample connectors' : 'no sample connectors';
  return `${database}, ${bus}, ${connectors}`;
}
