/**
 * The benchmark's policy: the test policy (every certificate type for TEST_MATTER) with a rate limit
 * no benchmark reaches, so the numbers measure the gateway rather than its rate limiter; and for the
 * evidence-bundle case (bench-matter.ts), the sample matter catalogue (policies/matters/, copied to
 * the gateway's policies folder) with SC-0201 granted for each of its certificate types.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { policiesDir } from '../../gateway/foundation/paths.js';
import { writeTestPolicy } from '../support/gateway-auth.js';
import { BUNDLE_MATTER, bundleFixture } from './bench-matter.js';

interface Grant {
  certificateType: string;
  matters: Array<{ code: string; name: string }>;
}

export async function writeBenchPolicy(dir: string): Promise<void> {
  await writeTestPolicy(dir);
  const file = path.join(dir, 'end-to-end-tests.json');
  const policy = JSON.parse(await readFile(file, 'utf8')) as { grants: Grant[] } & Record<string, unknown>;
  policy.rateLimit = { requestsPerMinute: 1_000_000, burst: 100_000 };
  const { certificateTypes } = await bundleFixture();
  for (const grant of policy.grants) {
    if (certificateTypes.includes(grant.certificateType)) {
      grant.matters.push({ code: BUNDLE_MATTER, name: 'Registration of an individual business (benchmark)' });
    }
  }
  await writeFile(file, JSON.stringify(policy, null, 2));
  await cp(path.join(policiesDir, 'matters'), path.join(dir, 'matters'), { recursive: true });
}
