/**
 * The export format (NDJSON, one JSON object a line), everything needed to verify the log offline:
 *   1. {"type":"silobridge-audit-export", "version":1, ...how the chain is computed}
 *   2. {"type":"jwks", "keys":[...]}                    the gateway's public keys
 *   3. {"type":"checkpoint", "sequence":n, "jws":"..."} every signed checkpoint, in sequence order
 *   4. {"type":"event", "sequence":n, "prevHash":"...", "hash":"...", "event":{...}} every event, in order
 * It is read from one database snapshot, so its checkpoints and events agree.
 */
import type { JsonWebKeySet } from '../signing/jws.js';
import { readPublicJwks } from '../signing/signing-keys.js';
import type { Database } from '../storage/database.js';
import { type ChainRow, GENESIS_HASH } from './audit-chain.js';
import { readCheckpoints } from './audit-checkpoints.js';
import { onSnapshot, readChain } from './audit-store.js';

export const EXPORT_FORMAT = 'silobridge-audit-export';
export const EXPORT_VERSION = 1;

export interface ExportHeader {
  type: typeof EXPORT_FORMAT;
  version: number;
  exportedAt: string;
  hashAlgorithm: 'sha256';
  canonicalization: 'RFC 8785';
  genesisHash: string;
  chain: string;
}

export interface ExportedCheckpoint {
  type: 'checkpoint';
  sequence: number;
  jws: string;
}

export type ExportLine =
  | ExportHeader
  | ({ type: 'jwks' } & JsonWebKeySet)
  | ExportedCheckpoint
  | ({ type: 'event' } & ChainRow);

export interface ExportSummary {
  events: number;
  checkpoints: number;
  head: { sequence: number; hash: string } | null;
}

/** Writes the whole log, one NDJSON line per call of `write` (which may apply back-pressure). */
export async function exportAuditLog(
  database: Database,
  write: (line: string) => Promise<void> | void,
): Promise<ExportSummary> {
  return onSnapshot(database, async (tx) => {
    const emit = (line: ExportLine) => write(`${JSON.stringify(line)}\n`);
    await emit({
      type: EXPORT_FORMAT,
      version: EXPORT_VERSION,
      exportedAt: new Date().toISOString(),
      hashAlgorithm: 'sha256',
      canonicalization: 'RFC 8785',
      genesisHash: GENESIS_HASH,
      chain:
        'hash = hex(sha256(utf8(prevHash + canonical_json(event)))); event.sequence = its position; first prevHash = genesisHash',
    });
    await emit({ type: 'jwks', ...(await readPublicJwks(tx)) });
    const checkpoints = await readCheckpoints(tx);
    for (const checkpoint of checkpoints)
      await emit({ type: 'checkpoint', sequence: checkpoint.sequence, jws: checkpoint.jws });
    const summary: ExportSummary = { events: 0, checkpoints: checkpoints.length, head: null };
    for await (const row of readChain(tx)) {
      await emit({ type: 'event', ...row });
      summary.events += 1;
      summary.head = { sequence: row.sequence, hash: row.hash };
    }
    return summary;
  });
}

export class ExportFormatError extends Error {}

/** Parses one export line; throws an ExportFormatError naming the line when it is not one. */
export function parseExportLine(text: string, lineNumber: number): ExportLine {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    throw new ExportFormatError(`line ${lineNumber} is not JSON`);
  }
  const type = (line as { type?: unknown } | null)?.type;
  if (type !== EXPORT_FORMAT && type !== 'jwks' && type !== 'checkpoint' && type !== 'event') {
    throw new ExportFormatError(`line ${lineNumber} is not part of a SiloBridge audit export`);
  }
  return line as ExportLine;
}
