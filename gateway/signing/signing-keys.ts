/**
 * The gateway's signing keys (ES256), kept in the database so every instance signs with the same key
 * and publishes the same JWKS. The first instance to start on an empty database makes the key (under
 * an advisory lock, so instances starting together make one); private keys are stored sealed
 * (key-sealing.ts). Rotation makes a new active key and retires the old one, which stays published:
 * signatures made before the rotation still verify.
 */
import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import jose from 'node-jose';
import type { Database, Queryable } from '../storage/database.js';
import { type JsonWebKeySet, type PrivateSigningKey, SIGNING_ALGORITHM, signCompact } from './jws.js';
import { seal, unseal } from './key-sealing.js';

/** Arbitrary but fixed: serialises key creation and rotation across gateway instances. */
const SIGNING_KEY_LOCK = 0x51_10_b2_1e;
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y'] as const;

export interface SigningKeyRing {
  /** The key id new signatures are made with. */
  readonly activeKid: string;
  /** A compact JWS over `payload` with the active key; `typ` says what it is for. */
  sign(payload: object, typ: string): Promise<string>;
  /** Every published public key, active and retired (read from the database, so other instances' rotations show). */
  jwks(): Promise<JsonWebKeySet>;
  /** Makes a new active key, retires the current one (still published); returns the new kid. */
  rotate(): Promise<string>;
  /** Stops the background refresh. */
  close(): void;
}

export interface SigningKeyRingOptions {
  database: Database;
  /** The secret private keys are sealed with (SILOBRIDGE_SIGNING_KEY_SECRET). */
  secret: string | Buffer;
  /** How often to pick up a key rotated by another instance; default 60 s. */
  refreshIntervalMs?: number;
}

interface KeyRow {
  kid: string;
  public_jwk: Record<string, unknown>;
  sealed_private_jwk: string;
}

/** Every public key in the database, newest first (what /.well-known/jwks.json publishes). */
export async function readPublicJwks(db: Queryable): Promise<JsonWebKeySet> {
  const { rows } = await db.query<{ public_jwk: Record<string, unknown> }>(
    'SELECT public_jwk FROM signing_keys ORDER BY created_at DESC, kid',
  );
  return { keys: rows.map((row) => row.public_jwk) };
}

async function generateKey(): Promise<{
  kid: string;
  publicJwk: Record<string, unknown>;
  privateJwk: object;
}> {
  const generated = await jose.JWK.createKey('EC', 'P-256', { alg: SIGNING_ALGORITHM, use: 'sig' });
  // RFC 7638 thumbprint: the kid names the key material itself.
  const kid = Buffer.from(await generated.thumbprint('SHA-256')).toString('base64url');
  const privateJwk = { ...(generated.toJSON(true) as Record<string, unknown>), kid };
  const publicJwk: Record<string, unknown> = { kid, alg: SIGNING_ALGORITHM, use: 'sig' };
  for (const member of PUBLIC_MEMBERS) publicJwk[member] = (privateJwk as Record<string, unknown>)[member];
  return { kid, publicJwk, privateJwk };
}

async function insertKey(tx: Queryable, secret: string | Buffer): Promise<string> {
  const key = await generateKey();
  await tx.query(
    'INSERT INTO signing_keys (kid, alg, public_jwk, sealed_private_jwk) VALUES ($1, $2, $3::jsonb, $4)',
    [
      key.kid,
      SIGNING_ALGORITHM,
      JSON.stringify(key.publicJwk),
      seal(secret, key.kid, JSON.stringify(key.privateJwk)),
    ],
  );
  return key.kid;
}

async function activeKeyRow(db: Queryable): Promise<KeyRow | undefined> {
  const { rows } = await db.query<KeyRow>(
    'SELECT kid, public_jwk, sealed_private_jwk FROM signing_keys WHERE retired_at IS NULL',
  );
  return rows[0];
}

async function ensureActiveKey(database: Database, secret: string | Buffer): Promise<KeyRow> {
  const existing = await activeKeyRow(database);
  if (existing) return existing;
  return database.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SIGNING_KEY_LOCK]);
    const raced = await activeKeyRow(tx);
    if (raced) return raced;
    await insertKey(tx, secret);
    const created = await activeKeyRow(tx);
    if (!created) throw new Error('the signing key just created is not there');
    return created;
  });
}

function openKey(row: KeyRow, secret: string | Buffer): PrivateSigningKey {
  const jwk = JSON.parse(unseal(secret, row.kid, row.sealed_private_jwk)) as JsonWebKey;
  return { kid: row.kid, key: createPrivateKey({ key: jwk, format: 'jwk' }) };
}

export async function openSigningKeyRing(options: SigningKeyRingOptions): Promise<SigningKeyRing> {
  const { database, secret } = options;
  let active = openKey(await ensureActiveKey(database, secret), secret);

  const refresh = async () => {
    const row = await activeKeyRow(database);
    if (row && row.kid !== active.kid) active = openKey(row, secret);
  };
  const timer = setInterval(() => {
    refresh().catch(() => {
      // The database is away; keep signing with the key we have and try again next time.
    });
  }, options.refreshIntervalMs ?? 60_000);
  timer.unref();

  return {
    get activeKid() {
      return active.kid;
    },
    sign: (payload, typ) => signCompact(active, payload, typ),
    jwks: () => readPublicJwks(database),
    async rotate() {
      const kid = await database.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [SIGNING_KEY_LOCK]);
        // A retired key only verifies: its private half is destroyed, its public half stays published.
        await tx.query(
          "UPDATE signing_keys SET retired_at = now(), sealed_private_jwk = 'destroyed' WHERE retired_at IS NULL",
        );
        return insertKey(tx, secret);
      });
      await refresh();
      return kid;
    },
    close() {
      clearInterval(timer);
    },
  };
}
