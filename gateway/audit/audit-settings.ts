/**
 * Settings the audit log fixes on first start and checks on every start after (append-only table).
 * Today one: the fingerprint of the HMAC key subject identifiers are hashed with.
 */
import type { Database } from '../storage/database.js';
import { hmacKeyFingerprint } from './subject-hash.js';

const HMAC_FINGERPRINT_SETTING = 'hmac-key-fingerprint';

/** Refuses a key other than the one this log's subject hashes were made with (they would never match). */
export async function checkHmacKey(database: Database, hmacKey: string | Buffer): Promise<void> {
  const fingerprint = hmacKeyFingerprint(hmacKey);
  await database.query(
    'INSERT INTO audit_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
    [HMAC_FINGERPRINT_SETTING, fingerprint],
  );
  const { rows } = await database.query<{ value: string }>(
    'SELECT value FROM audit_settings WHERE name = $1',
    [HMAC_FINGERPRINT_SETTING],
  );
  if (rows[0]?.value !== fingerprint) {
    throw new Error(
      'SILOBRIDGE_AUDIT_HMAC_KEY is not the key this audit log was started with: subject reports would miss ' +
        'every earlier event. Give every gateway instance the original key.',
    );
  }
}
