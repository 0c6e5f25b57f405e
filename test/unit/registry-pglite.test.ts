/** The embedded demo runs the registry on PGlite: the same SQL, triggers and transactions must work there. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../gateway/audit/audit-events.js';
import { migrationsDir } from '../../gateway/foundation/paths.js';
import { bootstrapDemo } from '../../gateway/registry/demo-bootstrap.js';
import { createRegistry, type Registry } from '../../gateway/registry/registry.js';
import type { Database } from '../../gateway/storage/database.js';
import { migrate } from '../../gateway/storage/migrations.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';

let database: Database;
let registry: Registry;
let dataDir: string;
const audit: AuditEvent[] = [];

beforeAll(async () => {
  database = await createPgliteDatabase(undefined);
  await migrate(database, migrationsDir);
  registry = createRegistry({
    database,
    audit: { record: async (event) => void audit.push(event) },
    refreshIntervalMs: 0,
  });
  dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-pglite-'));
});
afterAll(async () => {
  await database?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the registry on embedded PGlite', () => {
  it('bootstraps the demo identities and serves their credentials', async () => {
    const demo = await bootstrapDemo({ registry, dataDir });
    expect(demo.created).toContain('system data-office/gateway-admin');
    const credentials = await registry.credentialsOf('data-office/gateway-admin');
    expect(credentials).toMatchObject({ department: 'data-office', roles: ['admin'], enabled: true });
    expect(credentials?.keys.size).toBe(1);
    expect((await bootstrapDemo({ registry, dataDir })).created).toEqual([]);
  });

  it('retires keys and refuses to delete or revive them', async () => {
    const [key] = (await registry.getSystem('service-centre/approval'))?.keys ?? [];
    await registry.retireKey('test', 'service-centre/approval', key?.kid ?? '', { allowLastKey: true });
    expect((await registry.credentialsOf('service-centre/approval'))?.keys.get(key?.kid ?? '')?.retired).toBe(
      true,
    );
    await expect(database.query('DELETE FROM system_keys')).rejects.toThrow(/never deleted/);
    await expect(
      database.query('UPDATE system_keys SET retired_at = NULL, retired_by = NULL'),
    ).rejects.toThrow(/only be retired/);
  });
});
