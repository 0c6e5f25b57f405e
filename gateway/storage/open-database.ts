import path from 'node:path';
import type { GatewayConfig } from '../foundation/config.js';
import type { Database } from './database.js';
import { createPgliteDatabase } from './pglite-database.js';
import { createPostgresDatabase } from './postgres-database.js';

/** PostgreSQL when DATABASE_URL is set, else the embedded PGlite database in the data folder. */
export async function openDatabase(
  config: Pick<GatewayConfig, 'databaseUrl' | 'dataDir'>,
): Promise<Database> {
  if (config.databaseUrl) return createPostgresDatabase({ connectionString: config.databaseUrl });
  return createPgliteDatabase(path.join(config.dataDir, 'pgdata'));
}
