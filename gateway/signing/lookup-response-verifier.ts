/**
 * Checks a saved lookup response offline, with published keys only: the department's signature
 * (`/.well-known/department-jwks.json`) proves that department issued each released field for this
 * lookup; the gateway's (`/.well-known/jwks.json`) binds the released record as a whole to the lookup,
 * the requester and the time. What `silobridge verify` runs; approval systems can do the same in any
 * language (docs/protocol.md, "Checking a record offline").
 */
import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto';
import canonicalize from 'canonicalize';
import {
  type DecodedJws,
  type DepartmentKeyRef,
  disclosureMismatch,
  openDepartmentSignature,
  REPLY_SIGNATURE_TYP,
  verifiesWith,
} from '../protocol/department-signature.js';
import type { JsonWebKeySet } from './jws.js';
import { verifyLookupResponse } from './response-signer.js';

export interface VerificationReport {
  ok: boolean;
  /** What was proven, one line each. */
  verified: string[];
  /** What could not be proven and why; any entry makes `ok` false. */
  failures: string[];
  /** Fields the gateway released changed by policy (masked): present, but not the department's value. */
  masked: string[];
  /** Fields the department signed that the gateway did not release. */
  withheld: string[];
}

export interface VerifyOptions {
  departmentKeys: JsonWebKeySet;
  /** Without it the gateway's signature is not checked (and the report says so). */
  gatewayKeys?: JsonWebKeySet;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const same = (a: unknown, b: unknown) => canonicalize(a) === canonicalize(b);

export async function verifySavedLookupResponse(
  response: unknown,
  options: VerifyOptions,
): Promise<VerificationReport> {
  const report: VerificationReport = { ok: false, verified: [], failures: [], masked: [], withheld: [] };
  if (!isObject(response) || !isObject(response.record) || typeof response.lookupId !== 'string') {
    report.failures.push('not a lookup response: expected lookupId, record and the signatures');
    return report;
  }
  await checkDepartmentSignature(response, response.record, options.departmentKeys, report);
  if (options.gatewayKeys)
    await checkGatewaySignature(response, response.record, options.gatewayKeys, report);
  else report.verified.push('gateway signature not checked (no gateway keys given)');
  report.ok = report.failures.length === 0;
  return report;
}

async function checkDepartmentSignature(
  response: Record<string, unknown>,
  record: Record<string, unknown>,
  keys: JsonWebKeySet,
  report: VerificationReport,
): Promise<void> {
  const signed = response.departmentSignature;
  if (!isObject(signed)) {
    report.failures.push('the response carries no departmentSignature');
    return;
  }
  let decoded: DecodedJws;
  let ref: DepartmentKeyRef;
  try {
    ({ decoded, key: ref } = openDepartmentSignature(signed.signature, REPLY_SIGNATURE_TYP));
  } catch (error) {
    report.failures.push(`department signature: ${(error as Error).message}`);
    return;
  }
  const { header } = decoded;
  if (ref.department !== response.provider) {
    report.failures.push(
      `department signature: made by '${ref.department}', but the response names provider '${String(response.provider)}'`,
    );
    return;
  }
  const jwk = keys.keys.find((key) => key.kid === header.kid);
  if (!jwk) {
    report.failures.push(
      `department signature: key ${String(header.kid)} is not among the published department keys`,
    );
    return;
  }
  let valid = false;
  try {
    valid = await verifiesWith(decoded, createPublicKey({ key: publicMembers(jwk), format: 'jwk' }));
  } catch {
    valid = false;
  }
  if (!valid) {
    report.failures.push(`department signature: does not verify with key ${String(header.kid)}`);
    return;
  }
  report.verified.push(
    `department signature by ${String(header.kid)}${jwk.status && jwk.status !== 'active' ? ` (key now ${String(jwk.status)})` : ''}`,
  );
  const claims = isObject(decoded.payload) ? decoded.payload : {};
  for (const [name, expected] of [
    ['lookupId', response.lookupId],
    ['certificateType', response.certificateType],
    ['schemaVersion', response.schemaVersion],
    ['department', response.provider],
  ] as const) {
    if (!same(claims[name], expected))
      report.failures.push(
        `the department signed ${name} ${JSON.stringify(claims[name])}, the response says ${JSON.stringify(expected)}`,
      );
  }
  if (claims.outcome !== 'found')
    report.failures.push(`the department signed outcome ${JSON.stringify(claims.outcome)}, not found`);
  const digests = isObject(claims.digests) ? claims.digests : {};
  const disclosures = isObject(signed.disclosures) ? signed.disclosures : {};
  for (const [field, value] of Object.entries(record)) {
    const disclosure = disclosures[field];
    if (disclosure === undefined) {
      if (field in digests) report.masked.push(field);
      else report.failures.push(`field '${field}' is not one the department signed`);
      continue;
    }
    const mismatch = disclosureMismatch(field, disclosure, digests[field], value);
    if (!mismatch) report.verified.push(`field '${field}' as issued by ${ref.department}`);
    else if (mismatch.problem === 'unreadable') report.failures.push(`field '${field}': ${mismatch.reason}`);
    else if (mismatch.problem === 'digest')
      report.failures.push(`field '${field}': its digest is not the signed one`);
    else report.failures.push(`field '${field}': its disclosed value differs from the record's`);
  }
  for (const field of Object.keys(digests)) if (!(field in record)) report.withheld.push(field);
  for (const field of Object.keys(disclosures)) {
    if (!(field in record))
      report.failures.push(`a disclosure for '${field}', which the record does not have`);
  }
}

async function checkGatewaySignature(
  response: Record<string, unknown>,
  record: Record<string, unknown>,
  keys: JsonWebKeySet,
  report: VerificationReport,
): Promise<void> {
  try {
    const payload = await verifyLookupResponse(String(response.signature), keys);
    const digest = createHash('sha256')
      .update(canonicalize(record) ?? '')
      .digest('hex');
    if (payload.lookupId !== response.lookupId) report.failures.push('the gateway signed another lookup id');
    else if (payload.recordDigest !== digest)
      report.failures.push('the gateway signed another record (its digest differs)');
    else if (payload.certificateType !== response.certificateType)
      report.failures.push('the gateway signed another certificate type');
    else
      report.verified.push(
        `gateway signature: this record, for ${JSON.stringify(payload.requester)}, at ${payload.retrievedAt}`,
      );
  } catch (error) {
    report.failures.push(`gateway signature: ${(error as Error).message}`);
  }
}

/** The public members only: published JWKs carry extra members (status, department) node:crypto refuses. */
function publicMembers(jwk: Record<string, unknown>): JsonWebKey {
  return { kty: jwk.kty as string, crv: jwk.crv as string, x: jwk.x as string, y: jwk.y as string };
}
