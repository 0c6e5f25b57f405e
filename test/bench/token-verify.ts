/**
 * Token verification throughput, cached against uncached, in one run:
 *
 *   node --import tsx test/bench/token-verify.ts [seconds per case, default 2]
 *
 * "uncached" verifies the signature and claims on every request (cache off); "cached" serves a
 * repeated token from the verification cache. Both still ask the registry for the system's current
 * roles and key status: from a fixed in-memory map (the verifier alone), and from the real registry
 * view on embedded PGlite, with the default 1 s revision check and with a check on every request.
 */

import { migrationsDir } from '../../gateway/foundation/paths.js';
import type { CredentialSource, SystemCredentials } from '../../gateway/identity/credentials.js';
import {
  generateKeyPair,
  privateSigningKey,
  publicKeyObject,
  type SigningAlgorithm,
} from '../../gateway/identity/system-keys.js';
import { signToken } from '../../gateway/identity/token-signer.js';
import { createTokenVerifier } from '../../gateway/identity/token-verifier.js';
import { createRegistry } from '../../gateway/registry/registry.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';

const SECONDS = Number(process.argv[2] ?? 2);
const SYSTEM = 'service-centre/approval';

async function measure(verify: () => Promise<unknown>): Promise<number> {
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) await verify();
  let count = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i += 1) await verify();
    count += 100;
  }
  return count / ((performance.now() - start) / 1000);
}

interface Row {
  case: string;
  uncached: number;
  cached: number;
}

async function benchmark(name: string, credentials: CredentialSource, token: string): Promise<Row> {
  const options = {
    credentials,
    audience: 'silobridge',
    maxTokenLifetimeSeconds: 900,
    clockToleranceSeconds: 30,
  };
  const uncached = createTokenVerifier({ ...options, cacheSize: 0 });
  const cached = createTokenVerifier(options);
  return {
    case: name,
    uncached: await measure(() => uncached.verify(token)),
    cached: await measure(() => cached.verify(token)),
  };
}

const rows: Row[] = [];
const database = await createPgliteDatabase(undefined);
await migrate(database, migrationsDir);
const audit = { record: async () => {} };
const setup = createRegistry({ database, audit });
await setup.createDepartment('bench', {
  code: 'service-centre',
  nameEn: 'Service Centre',
  nameZh: '政务服务中心',
});
await setup.createSystem('bench', { id: SYSTEM, name: 'bench', roles: ['lookup'] });

for (const alg of ['ES256', 'RS256', 'PS256'] as SigningAlgorithm[]) {
  const pair = await generateKeyPair(alg, `bench-${alg.toLowerCase()}`);
  await setup.addKey('bench', SYSTEM, { jwk: pair.publicJwk });
  const token = signToken({
    systemId: SYSTEM,
    key: await privateSigningKey(pair.privateJwk),
    audience: 'silobridge',
    lifetimeSeconds: 900,
  });
  const fixed: SystemCredentials = {
    systemId: SYSTEM,
    department: 'service-centre',
    roles: ['lookup'],
    enabled: true,
    keys: new Map([
      [pair.kid, { kid: pair.kid, alg, publicKey: await publicKeyObject(pair.publicJwk), retired: false }],
    ]),
  };
  rows.push(await benchmark(`${alg}, verifier alone`, { credentialsOf: async () => fixed }, token));
  rows.push(
    await benchmark(
      `${alg}, registry (PGlite, 1 s check)`,
      createRegistry({ database, audit, refreshIntervalMs: 1000 }),
      token,
    ),
  );
  rows.push(
    await benchmark(
      `${alg}, registry (PGlite, check per request)`,
      createRegistry({ database, audit, refreshIntervalMs: 0 }),
      token,
    ),
  );
}
await database.close();

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);
const width = Math.max(...rows.map((r) => r.case.length));
process.stdout.write(
  `\nToken verification, ${SECONDS} s per case, Node ${process.version}, one event loop\n\n`,
);
process.stdout.write(`${'case'.padEnd(width)}  uncached/s    cached/s   speed-up\n`);
for (const row of rows) {
  process.stdout.write(
    `${row.case.padEnd(width)}  ${fmt(row.uncached)}  ${fmt(row.cached)}   ${(row.cached / row.uncached).toFixed(1).padStart(6)}x\n`,
  );
}
