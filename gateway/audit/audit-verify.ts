/**
 * Verification of the audit log, from the database (`GET /v1/audit/verify`, `silobridge audit verify`)
 * or from an export file, offline (`silobridge audit verify --file`). Checkpoint signatures are checked
 * against a JWKS: the one in the database or the file by default, or one the verifier trusts (fetched
 * from /.well-known/jwks.json earlier), since whoever can rewrite the database can add a key to it.
 * Checkpoints held elsewhere can be added: they pin the chain however the database was changed.
 */
import type { JsonWebKeySet } from '../signing/jws.js';
import { readPublicJwks } from '../signing/signing-keys.js';
import type { Database } from '../storage/database.js';
import { type CheckpointPayload, checkCheckpointSignature, readCheckpoints } from './audit-checkpoints.js';
import { EXPORT_FORMAT, ExportFormatError, type ExportLine, parseExportLine } from './audit-export.js';
import { onSnapshot, readChain } from './audit-store.js';
import { type HeldCheckpoint, witness } from './audit-witness.js';
import { ChainVerifier, type VerifyReport } from './chain-verifier.js';

export interface VerifyOptions {
  /** Check checkpoint signatures against this key set instead of the one stored with the log. */
  jwks?: JsonWebKeySet;
  /** Checkpoints held outside the log (compact JWS), checked against it too. */
  extraCheckpoints?: string[];
  /** Checkpoints held outside the log, with where they came from: the report gets a `witness` section. */
  held?: HeldCheckpoint[];
}

async function createVerifier(
  checkpoints: Array<{ sequence: number; jws: string }>,
  jwks: JsonWebKeySet,
): Promise<ChainVerifier> {
  const valid: CheckpointPayload[] = [];
  const invalid: Array<{ sequence: number; reason: string }> = [];
  const seen = new Set<string>();
  for (const checkpoint of checkpoints) {
    if (seen.has(checkpoint.jws)) continue;
    seen.add(checkpoint.jws);
    const checked = await checkCheckpointSignature(checkpoint.jws, jwks, checkpoint.sequence);
    if (checked.ok) valid.push(checked.payload);
    else invalid.push(checked);
  }
  return new ChainVerifier(valid, invalid);
}

/** Sequence numbers of checkpoints held elsewhere come from their signed payload (unchecked until verified). */
function claimedSequence(jws: string): number {
  try {
    const payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sequence?: unknown;
    };
    return typeof payload.sequence === 'number' ? payload.sequence : 0;
  } catch {
    return 0;
  }
}

/** The checkpoints given in the options, as the verifier takes them. */
function givenCheckpoints(options: VerifyOptions): Array<{ sequence: number; jws: string }> {
  return [...(options.extraCheckpoints ?? []), ...(options.held ?? []).map((held) => held.jws)].map(
    (jws) => ({ sequence: claimedSequence(jws), jws }),
  );
}

async function finish(verifier: ChainVerifier, options: VerifyOptions, jwks: JsonWebKeySet) {
  const report = verifier.finish();
  return options.held ? { ...report, witness: await witness(options.held, verifier, report, jwks) } : report;
}

export async function verifyAuditLog(database: Database, options: VerifyOptions = {}): Promise<VerifyReport> {
  return onSnapshot(database, async (tx) => {
    const stored = await readCheckpoints(tx);
    const jwks = options.jwks ?? (await readPublicJwks(tx));
    const verifier = await createVerifier([...stored, ...givenCheckpoints(options)], jwks);
    for await (const row of readChain(tx)) verifier.add(row);
    return finish(verifier, options, jwks);
  });
}

/** Verifies an export (its lines, in order) without the database. */
export async function verifyExport(
  lines: AsyncIterable<string>,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  let lineNumber = 0;
  let verifier: ChainVerifier | undefined;
  let jwks: JsonWebKeySet | undefined = options.jwks;
  const checkpoints = givenCheckpoints(options);
  for await (const text of lines) {
    lineNumber += 1;
    if (text.trim() === '') continue;
    const line: ExportLine = parseExportLine(text, lineNumber);
    if (lineNumber === 1 && line.type !== EXPORT_FORMAT)
      throw new ExportFormatError('line 1 is not an export header');
    if (line.type === 'jwks') jwks ??= { keys: line.keys };
    else if (line.type === 'checkpoint') {
      if (verifier) throw new ExportFormatError(`line ${lineNumber}: a checkpoint after the events`);
      checkpoints.push({ sequence: line.sequence, jws: line.jws });
    } else if (line.type === 'event') {
      verifier ??= await createVerifier(checkpoints, jwks ?? { keys: [] });
      verifier.add({ sequence: line.sequence, prevHash: line.prevHash, hash: line.hash, event: line.event });
    }
  }
  if (lineNumber === 0) throw new ExportFormatError('the export is empty');
  verifier ??= await createVerifier(checkpoints, jwks ?? { keys: [] });
  return finish(verifier, options, jwks ?? { keys: [] });
}

/** Checkpoints held elsewhere: any NDJSON whose lines carry a `jws` (an export, or GET /v1/audit/checkpoints lines). */
export function checkpointsFromNdjson(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as { jws?: unknown }).jws)
    .filter((jws): jws is string => typeof jws === 'string');
}
