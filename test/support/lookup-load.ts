/**
 * Callers in a loop against a gateway, as approval systems under load: each caller asks for one
 * certificate type, cycling through the sample connectors' seed subjects, and every answer is kept
 * as a sample. A 200 is checked against its request: the record must be exactly the seed record of
 * the subject asked for (the test policy grants every field, unmasked), the certificate type the one
 * asked for, and no lookup id may come back twice; anything else is a `mismatch`.
 */
import { isDeepStrictEqual } from 'node:util';
import { readSeed } from '../../connectors/samples/sample-connectors.js';
import { sampleSeedDir } from '../../gateway/foundation/paths.js';
import { lookupBody } from './lookup-fixtures.js';

export interface LookupSample {
  caller: number;
  certificateType: string;
  /** performance.now() when the request was sent, and how long the answer took. */
  sentAt: number;
  ms: number;
  status: number;
  /** The problem type's last segment, for a problem answer. */
  problem?: string;
  lookupId?: string;
  /** Why a 200 does not answer its request; undefined when it does. */
  mismatch?: string;
}

export interface LoadOptions {
  url: string;
  /** A bearer token for the requester; asked before every call, so it may renew itself. */
  token: () => Promise<string>;
  /** One entry per caller: the certificate type it asks for. */
  callers: string[];
  /** Checked before each call: false ends that caller's loop. */
  running: () => boolean;
  /** Wait between a caller's answer and its next call (default 0: back to back). */
  pauseMs?: () => number;
  onSample?: (sample: LookupSample) => void;
}

const seedCounts = new Map<string, number>();
function seedCount(certificateType: string): number {
  let count = seedCounts.get(certificateType);
  if (count === undefined) {
    count = readSeed(certificateType, sampleSeedDir).length;
    seedCounts.set(certificateType, count);
  }
  return count;
}

/** Runs until `running()` says stop; resolves with every sample (also passed to onSample as it comes). */
export async function runLoad(options: LoadOptions): Promise<LookupSample[]> {
  const samples: LookupSample[] = [];
  const seenIds = new Set<string>();
  await Promise.all(
    options.callers.map(async (certificateType, caller) => {
      const seed = readSeed(certificateType, sampleSeedDir);
      for (let call = 0; options.running(); call += 1) {
        const index = (call * options.callers.length + caller) % seedCount(certificateType);
        const sample = await callOnce(options, caller, certificateType, index, seed[index]?.record);
        if (sample.lookupId) {
          if (seenIds.has(sample.lookupId)) sample.mismatch ??= `lookup id ${sample.lookupId} answered twice`;
          seenIds.add(sample.lookupId);
        }
        samples.push(sample);
        options.onSample?.(sample);
        const pause = options.pauseMs?.() ?? 0;
        if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }),
  );
  return samples;
}

export async function callOnce(
  options: Pick<LoadOptions, 'url' | 'token'>,
  caller: number,
  certificateType: string,
  index: number,
  expected: unknown,
): Promise<LookupSample> {
  const sentAt = performance.now();
  let status = 0;
  // biome-ignore lint/suspicious/noExplicitAny: lookup or problem JSON, checked below.
  let body: Record<string, any> = {};
  try {
    const response = await fetch(`${options.url}/v1/lookups`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await options.token()}` },
      body: JSON.stringify(lookupBody(certificateType, index)),
    });
    status = response.status;
    body = (await response.json()) as typeof body;
  } catch (error) {
    body = { type: `fetch-failed: ${(error as Error).message}` };
  }
  const sample: LookupSample = {
    caller,
    certificateType,
    sentAt,
    ms: performance.now() - sentAt,
    status,
    ...(typeof body.lookupId === 'string' ? { lookupId: body.lookupId } : {}),
  };
  if (status !== 200) {
    sample.problem = String(body.type ?? '').replace(/^.*\//, '');
  } else if (body.certificateType !== certificateType) {
    sample.mismatch = `asked for ${certificateType}, got ${body.certificateType}`;
  } else if (!isDeepStrictEqual(body.record, expected)) {
    sample.mismatch = `the record is not seed record ${index} of ${certificateType}`;
  }
  return sample;
}

export interface PacedOptions {
  url: string;
  token: () => Promise<string>;
  /** Certificate types asked for in turn. */
  certificateTypes: string[];
  /** Lookups per second, sent on schedule whether or not earlier ones were answered (open loop). */
  ratePerSecond: number;
  durationMs: number;
  /** More unanswered lookups than this at once: the next ones are not sent but counted as `shed`. */
  maxInFlight?: number;
  onSample?: (sample: LookupSample) => void;
}

/** Open-loop load at a fixed rate: what a population of callers does, unlike callers in a loop. */
export async function runPaced(options: PacedOptions): Promise<{ samples: LookupSample[]; shed: number }> {
  const samples: LookupSample[] = [];
  const seenIds = new Set<string>();
  const pending = new Set<Promise<void>>();
  const maxInFlight = options.maxInFlight ?? 256;
  const startedAt = performance.now();
  const intervalMs = 1000 / options.ratePerSecond;
  let shed = 0;
  for (let n = 0; ; n += 1) {
    const due = startedAt + n * intervalMs;
    if (due - startedAt >= options.durationMs) break;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (pending.size >= maxInFlight) {
      shed += 1;
      continue;
    }
    const certificateType = options.certificateTypes[n % options.certificateTypes.length] as string;
    const index = Math.floor(n / options.certificateTypes.length) % seedCount(certificateType);
    const record = readSeedRecord(certificateType, index);
    const call: Promise<void> = callOnce(options, 0, certificateType, index, record).then((sample) => {
      if (sample.lookupId) {
        if (seenIds.has(sample.lookupId)) sample.mismatch ??= `lookup id ${sample.lookupId} answered twice`;
        seenIds.add(sample.lookupId);
      }
      samples.push(sample);
      options.onSample?.(sample);
      pending.delete(call);
    });
    pending.add(call);
  }
  await Promise.all(pending);
  return { samples, shed };
}

const seedRecords = new Map<string, unknown[]>();
function readSeedRecord(certificateType: string, index: number): unknown {
  let records = seedRecords.get(certificateType);
  if (!records) {
    records = readSeed(certificateType, sampleSeedDir).map((entry) => entry.record);
    seedRecords.set(certificateType, records);
  }
  return records[index];
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
