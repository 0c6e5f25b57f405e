/**
 * Signed checkpoints: every N events or T seconds the gateway signs the chain head as a compact JWS
 * (typ `silobridge-audit-checkpoint+jws`, payload `{log, sequence, hash, at}`). A checkpoint held
 * outside the database (exported, published, given to a third party) pins everything up to its
 * sequence: rewriting those events, even with every later hash recomputed, no longer matches it.
 */
import { type JsonWebKeySet, SignatureError, verifyCompact } from '../signing/jws.js';
import type { Database, Queryable } from '../storage/database.js';
import { lockChain, readHead } from './audit-store.js';

export const CHECKPOINT_TYP = 'silobridge-audit-checkpoint+jws';
export const CHECKPOINT_LOG = 'silobridge-audit';

export interface CheckpointPayload {
  log: string;
  sequence: number;
  hash: string;
  at: string;
}

export interface StoredCheckpoint {
  sequence: number;
  hash: string;
  at: string;
  kid: string;
  jws: string;
}

export interface CheckpointSigner {
  sign(payload: object, typ: string): Promise<string>;
}

function kidOf(jws: string): string {
  const header = JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
    kid?: unknown;
  };
  return String(header.kid);
}

export async function writeCheckpoint(
  tx: Queryable,
  signer: CheckpointSigner,
  head: { sequence: number; hash: string },
): Promise<StoredCheckpoint> {
  const payload: CheckpointPayload = {
    log: CHECKPOINT_LOG,
    sequence: head.sequence,
    hash: head.hash,
    at: new Date().toISOString(),
  };
  const jws = await signer.sign(payload, CHECKPOINT_TYP);
  const checkpoint: StoredCheckpoint = {
    sequence: head.sequence,
    hash: head.hash,
    at: payload.at,
    kid: kidOf(jws),
    jws,
  };
  await tx.query('INSERT INTO audit_checkpoints (sequence, hash, at, kid, jws) VALUES ($1, $2, $3, $4, $5)', [
    checkpoint.sequence,
    checkpoint.hash,
    checkpoint.at,
    checkpoint.kid,
    checkpoint.jws,
  ]);
  return checkpoint;
}

interface CheckpointRow {
  sequence: string | number;
  hash: string;
  at: Date | string;
  kid: string;
  jws: string;
}

function toStoredCheckpoints(rows: CheckpointRow[]): StoredCheckpoint[] {
  return rows.map((row) => ({
    sequence: Number(row.sequence),
    hash: row.hash,
    at: new Date(row.at).toISOString(),
    kid: row.kid,
    jws: row.jws,
  }));
}

export async function readCheckpoints(db: Queryable): Promise<StoredCheckpoint[]> {
  const { rows } = await db.query<CheckpointRow>(
    'SELECT sequence, hash, at, kid, jws FROM audit_checkpoints ORDER BY sequence',
  );
  return toStoredCheckpoints(rows);
}

/** Checkpoints after `sequence`, oldest first, at most `limit` (a page of the public feed, a catch-up). */
export async function readCheckpointsAfter(
  db: Queryable,
  sequence: number,
  limit: number,
): Promise<StoredCheckpoint[]> {
  const { rows } = await db.query<CheckpointRow>(
    'SELECT sequence, hash, at, kid, jws FROM audit_checkpoints WHERE sequence > $1 ORDER BY sequence LIMIT $2',
    [sequence, limit],
  );
  return toStoredCheckpoints(rows);
}

/** The signed payload of a checkpoint, unchecked (who holds a copy checks it with checkCheckpointSignature). */
export function claimedCheckpoint(
  jws: string,
): Partial<CheckpointPayload> & { typ?: unknown; kid?: unknown } {
  try {
    const [header, payload] = jws.split('.').map((part) => Buffer.from(part, 'base64url').toString('utf8'));
    const { typ, kid } = JSON.parse(header ?? '') as { typ?: unknown; kid?: unknown };
    return { ...(JSON.parse(payload ?? '') as Partial<CheckpointPayload>), typ, kid };
  } catch {
    return {};
  }
}

export type CheckpointCheck =
  | { ok: true; payload: CheckpointPayload; kid: string }
  | { ok: false; sequence: number; reason: string };

/** Checks a checkpoint's signature against the key set; its hash is compared with the chain by the verifier. */
export async function checkCheckpointSignature(
  jws: string,
  jwks: JsonWebKeySet,
  sequence: number,
): Promise<CheckpointCheck> {
  try {
    const { payload, kid } = await verifyCompact<CheckpointPayload>(jws, jwks, CHECKPOINT_TYP);
    if (
      payload.log !== CHECKPOINT_LOG ||
      !Number.isSafeInteger(payload.sequence) ||
      typeof payload.hash !== 'string'
    ) {
      return { ok: false, sequence, reason: 'its signed payload is not a SiloBridge audit checkpoint' };
    }
    return { ok: true, payload, kid };
  } catch (error) {
    if (error instanceof SignatureError) return { ok: false, sequence, reason: error.message };
    throw error;
  }
}

export interface CheckpointPolicy {
  /** Sign the head even if neither limit is reached (not if it is already signed). */
  force: boolean;
  every: number;
  intervalMs: number;
  lockTimeoutMs: number;
}

/** Signs the chain head if it is due (under the chain lock, so instances never sign the same head twice). */
export async function checkpointHead(
  database: Database,
  signer: CheckpointSigner,
  policy: CheckpointPolicy,
): Promise<StoredCheckpoint | undefined> {
  return database.transaction(async (tx) => {
    await lockChain(tx, policy.lockTimeoutMs);
    const head = await readHead(tx);
    if (head.sequence === head.checkpointSequence) return undefined;
    const sinceLast = Date.now() - (head.checkpointAt?.getTime() ?? 0);
    const due =
      policy.force ||
      head.sequence - head.checkpointSequence >= policy.every ||
      sinceLast >= policy.intervalMs;
    return due ? writeCheckpoint(tx, signer, head) : undefined;
  });
}
