/**
 * What the demo prints once it is ready: what the gateway runs on, the demo systems, how to get a
 * token, and a lookup and an evidence bundle a newcomer can paste into a shell. The subject comes from
 * the sample connectors' seed data and the matter from the service centre's sample policy and matter
 * catalogue, so the lookup really finds a record and shows the policy at work (the ID number comes
 * back masked), and the bundle (docs/matters.md) finds all three of SC-0201's certificates, one from
 * each of three departments: the applicant is in the seed data of every one of them.
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
/** Everything SC-0201 needs for the same applicant and case, in one call (POST /v1/matters/{code}/evidence). */
const DEMO_MATTER = DEMO_LOOKUP.purpose.matter;
const DEMO_BUNDLE = {
  applicant: { residentIdNumber: DEMO_LOOKUP.subject.residentIdNumber },
  caseRef: DEMO_LOOKUP.purpose.caseRef,
  officer: DEMO_LOOKUP.purpose.officer,
};
/** The other departments whose sample connectors answer DEMO_BUNDLE's items. */
const DEMO_BUNDLE_DEPARTMENTS = ['natural-resources', 'civil-affairs'];

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
        `running on the same bus (silobridge connector --department ${DEMO_DEPARTMENT} ...); the evidence`,
        `bundle also needs the ${DEMO_BUNDLE_DEPARTMENTS.join(' and ')} connectors.`,
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
    `Or fetch everything ${DEMO_MATTER} needs for this applicant in one call: the ID card, the real-estate`,
    'certificate and the marriage certificate, from three departments in parallel (docs/matters.md):',
    '',
    `  curl -s ${url}/v1/matters/${DEMO_MATTER}/evidence -H "Authorization: Bearer $TOKEN" \\`,
    `    -H 'Content-Type: application/json' \\`,
    `    -d '${JSON.stringify(DEMO_BUNDLE)}'`,
    '',
    'To see a revoked licence reach a subscribed approval system (a webhook, or an event stream),',
    `follow docs/notices.md, "Walkthrough: the embedded demo" (POST ${url}/v1/sample-connectors/changes).`,
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
