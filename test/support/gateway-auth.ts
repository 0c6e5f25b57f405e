/**
 * Calling a gateway as a registered system in tests: tokens signed with the demo identities' key
 * files (bootstrapped by the gateway into its data folder), and a policy that lets one test system
 * look up every certificate type, so end-to-end tests exercise routing rather than the sample lists.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadSchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { schemasDir } from '../../gateway/foundation/paths.js';
import { readKeyFile } from '../../gateway/identity/key-files.js';
import { privateSigningKey } from '../../gateway/identity/system-keys.js';
import { signToken } from '../../gateway/identity/token-signer.js';
import { demoKeyFile } from '../../gateway/registry/demo-bootstrap.js';

export const TEST_REQUESTER = 'service-centre/approval';
export const TEST_MATTER = 'TEST-0001';

/** A fresh token for a demo system of the gateway whose data folder is `dataDir`. */
export async function demoToken(dataDir: string, systemId = TEST_REQUESTER): Promise<string> {
  const key = await privateSigningKey(await readKeyFile(demoKeyFile(dataDir, systemId)));
  return signToken({ systemId, key, audience: 'silobridge', lifetimeSeconds: 300 });
}

/** Writes a policy granting `systemId` every field of every certificate type for TEST_MATTER. */
export async function writeTestPolicy(dir: string, systemId = TEST_REQUESTER): Promise<void> {
  const catalog = await loadSchemaCatalog(schemasDir);
  const policy = {
    version: 1,
    id: 'end-to-end-tests',
    title: 'End-to-end tests: every certificate type',
    requester: { department: systemId.split('/')[0], systems: [systemId] },
    validFrom: '2026-01-01',
    rateLimit: { requestsPerMinute: 100_000, burst: 10_000 },
    grants: catalog.list().map((type) => ({
      id: `TEST-${type.certificateType}`,
      certificateType: type.certificateType,
      matters: [{ code: TEST_MATTER, name: 'End-to-end test matter' }],
      fields: catalog.recordFields(type.certificateType, type.latestVersion),
      legalBasis: 'Test fixture: not a real grant.',
    })),
  };
  await writeFile(path.join(dir, 'end-to-end-tests.json'), JSON.stringify(policy, null, 2));
}
