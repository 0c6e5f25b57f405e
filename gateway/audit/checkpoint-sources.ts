/**
 * Reads the checkpoints someone kept, in any form the gateway hands them out: NDJSON checkpoint lines
 * (the public feed, the Kafka dump, the checkpoint files, an export, GET /v1/audit/checkpoints lines),
 * a JSON document that carries them anywhere inside (a saved lookup or batch response's `checkpoint`,
 * GET /v1/audit/checkpoints), bare compact JWS lines, a folder of such files (the checkpoint folder,
 * copied), or an http(s) URL serving any of these. A checkpoint is recognised by its JWS header
 * (`typ` silobridge-audit-checkpoint+jws), wherever it sits; its signature is checked later.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CHECKPOINT_TYP, claimedCheckpoint } from './audit-checkpoints.js';
import type { HeldCheckpoint } from './audit-witness.js';

export class CheckpointSourceError extends Error {}

const NEXT_LINK = /<([^>]+)>\s*;\s*rel="?next"?/;
/** A feed of 10 000 pages of 10 000 checkpoints: more than a gateway signs in a century. */
const MAX_PAGES = 10_000;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function isCheckpointJws(value: string): boolean {
  return COMPACT_JWS.test(value) && claimedCheckpoint(value).typ === CHECKPOINT_TYP;
}

/** Every checkpoint JWS anywhere inside a JSON value. */
function collect(value: unknown, into: string[]): void {
  if (typeof value === 'string') {
    if (isCheckpointJws(value)) into.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, into);
  } else if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) collect(child, into);
  }
}

/** The checkpoints in a text: one JSON document, or NDJSON, or bare JWS lines. */
export function checkpointsInText(text: string): string[] {
  const found: string[] = [];
  try {
    collect(JSON.parse(text), found);
    return found;
  } catch {
    // Not one JSON document: a line at a time.
  }
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    try {
      collect(JSON.parse(trimmed), found);
    } catch {
      collect(trimmed, found);
    }
  }
  return found;
}

export interface SourceReader {
  fetch?: typeof fetch;
}

async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue; // a file being written (checkpoint-publication.ts)
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(full)));
    else if (entry.isFile()) files.push(full);
  }
  return files;
}

/** The checkpoints one source holds; a source that cannot be read, or holds none, is an error. */
export async function readHeldCheckpoints(
  source: string,
  reader: SourceReader = {},
): Promise<HeldCheckpoint[]> {
  const jws: string[] = [];
  if (/^https?:\/\//i.test(source)) {
    // The public feed is paged: follow its `Link: rel="next"` to the end.
    let url: string | undefined = source;
    for (let page = 0; url !== undefined && page < MAX_PAGES; page += 1) {
      const current: string = url;
      const response = await (reader.fetch ?? fetch)(current).catch((error: unknown) => {
        throw new CheckpointSourceError(`${current}: ${(error as Error).message}`);
      });
      if (!response.ok) throw new CheckpointSourceError(`${current}: HTTP ${response.status}`);
      jws.push(...checkpointsInText(await response.text()));
      const next = NEXT_LINK.exec(response.headers.get('link') ?? '')?.[1];
      url = next === undefined ? undefined : new URL(next, current).toString();
    }
  } else {
    const info = await stat(source).catch(() => {
      throw new CheckpointSourceError(`${source}: no such file or folder`);
    });
    const files = info.isDirectory() ? await filesUnder(source) : [source];
    for (const file of files) jws.push(...checkpointsInText(await readFile(file, 'utf8')));
  }
  if (jws.length === 0) throw new CheckpointSourceError(`${source}: holds no audit checkpoint`);
  return jws.map((found) => ({ source, jws: found }));
}
