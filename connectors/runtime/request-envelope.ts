/**
 * Reads a lookup request record. The runtime checks the few properties it relies on itself, so it is
 * safe without the schema catalog; a department that loads the catalog also gets full schema checks.
 */
import type { LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';

export interface EnvelopeVerdict {
  ok: boolean;
  errors?: ReadonlyArray<{ pointer: string; reason: string }>;
}

/** Full schema validation of a request envelope, e.g. `(v) => catalog.validateEnvelope('lookup-request', v)`. */
export type RequestValidator = (value: unknown) => EnvelopeVerdict;

export type ParsedRequest =
  | { ok: true; request: LookupRequestEnvelope; deadline: number }
  | { ok: false; reason: string };

export function parseRequest(value: string, validate?: RequestValidator): ParsedRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    // Not JSON.parse's message: it quotes the input, which may hold personal data.
    return { ok: false, reason: 'not valid JSON' };
  }
  if (validate) {
    const verdict = validate(parsed);
    if (!verdict.ok) {
      const details = (verdict.errors ?? [])
        .map((error) => `${error.pointer || '/'} ${error.reason}`)
        .join('; ');
      return {
        ok: false,
        reason: `not a valid lookup request envelope: ${details || 'rejected by the schema'}`,
      };
    }
  }
  const problem = structuralProblem(parsed);
  if (problem) return { ok: false, reason: `not a valid lookup request envelope: ${problem}` };
  const request = parsed as LookupRequestEnvelope;
  return { ok: true, request, deadline: Date.parse(request.deadline) };
}

function structuralProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'expected a JSON object';
  if (value.version !== 1)
    return `unsupported version ${JSON.stringify(value.version)} (this connector speaks 1)`;
  for (const name of ['lookupId', 'certificateType', 'deadline'] as const) {
    if (typeof value[name] !== 'string' || value[name] === '') return `/${name} must be a non-empty string`;
  }
  if (!Number.isInteger(value.schemaVersion)) return '/schemaVersion must be an integer';
  if (!isObject(value.subject)) return '/subject must be an object';
  if (
    value.fields !== undefined &&
    !(Array.isArray(value.fields) && value.fields.every((f) => typeof f === 'string'))
  ) {
    return '/fields must be an array of strings';
  }
  if (Number.isNaN(Date.parse(value.deadline as string))) return '/deadline must be a date-time';
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
