/**
 * What the embedded demo prints once it is ready: a lookup a newcomer can paste into a shell. The
 * subject comes from the sample connectors' seed data, so the lookup really finds a record.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../paths.js';

const SEED_FILE = path.join(projectRoot, 'connectors', 'samples', 'seed', 'business-licence.json');

export async function demoBanner(url: string): Promise<string> {
  const seed = JSON.parse(await readFile(SEED_FILE, 'utf8')) as Array<{ subject: Record<string, unknown> }>;
  const body = {
    certificateType: 'business-licence',
    subject: seed[0]?.subject ?? {},
    purpose: { matter: 'demo-matter', caseRef: 'DEMO-0001', officer: 'demo-officer' },
  };
  return [
    '',
    `SiloBridge is running at ${url} (embedded database, in-process bus, sample connectors).`,
    'Try a lookup:',
    '',
    `  curl -s ${url}/v1/lookups -H 'Content-Type: application/json' \\`,
    `    -d '${JSON.stringify(body)}'`,
    '',
    `Certificate types: ${url}/v1/catalog    Readiness: ${url}/readyz    Stop: Ctrl-C`,
    '',
  ].join('\n');
}
