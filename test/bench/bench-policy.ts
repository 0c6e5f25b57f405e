/**
 * The benchmark's policy: the test policy (every certificate type for TEST_MATTER) with a rate limit
 * no benchmark reaches, so the numbers measure the gateway rather than its rate limiter.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeTestPolicy } from '../support/gateway-auth.js';

export async function writeBenchPolicy(dir: string): Promise<void> {
  await writeTestPolicy(dir);
  const file = path.join(dir, 'end-to-end-tests.json');
  const policy = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  policy.rateLimit = { requestsPerMinute: 1_000_000, burst: 100_000 };
  await writeFile(file, JSON.stringify(policy, null, 2));
}
