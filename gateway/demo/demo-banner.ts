/**
 * What the embedded demo prints once it is ready: the demo systems, how to get a token, and a lookup
 * a newcomer can paste into a shell. The subject comes from the sample connectors' seed data and the
 * matter from the service centre's sample policy, so the lookup really finds a record, and shows the
 * policy at work (the ID number comes back masked).
 */
import type { DemoBootstrapResult } from '../registry/demo-bootstrap.js';

const DEMO_LOOKUP = {
  certificateType: 'resident-id-card',
  subject: { residentIdNumber: '35010219850101123X' },
  purpose: { matter: 'SC-0201', caseRef: 'DEMO-2026-0001', officer: 'demo-officer' },
};

export function demoBanner(url: string, demo: DemoBootstrapResult): string {
  return [
    '',
    `SiloBridge is running at ${url} (embedded database, in-process bus, sample connectors).`,
    '',
    demo.banner,
    'Then look up a resident ID card for the matter SC-0201 (the policy masks the number):',
    '',
    `  curl -s ${url}/v1/lookups -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
    `    -d '${JSON.stringify(DEMO_LOOKUP)}'`,
    '',
    `Certificate types: ${url}/v1/catalog    Readiness: ${url}/readyz    Stop: Ctrl-C`,
    '',
  ].join('\n');
}
