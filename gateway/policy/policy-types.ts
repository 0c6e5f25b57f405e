/**
 * Policy files as written (policies/*.yaml, checked against policies/policy.schema.json) and as
 * compiled for decisions: times resolved to instants, sets for look-ups, masks as functions.
 */
import type { DataFileProblem } from '../foundation/data-files.js';
import type { CertificateRecord } from '../protocol/envelopes.js';
import type { MaskRule } from './masking.js';
import type { RateLimit } from './rate-limiter.js';

export interface MatterDocument {
  code: string;
  name: string;
}

export interface GrantDocument {
  id: string;
  certificateType: string;
  matters: MatterDocument[];
  fields: string[];
  mask?: Record<string, MaskRule>;
  legalBasis: string;
  validFrom?: string;
  validUntil?: string;
  note?: string;
}

export interface PolicyDocument {
  version: 1;
  id: string;
  title: string;
  description?: string;
  requester: { department: string; systems?: string[] };
  validFrom: string;
  validUntil?: string;
  timeZone?: string;
  rateLimit: RateLimit;
  grants: GrantDocument[];
}

export interface CompiledPolicy {
  document: PolicyDocument;
  /** File name inside the policies folder. */
  file: string;
  /** Milliseconds since the epoch; `until` is exclusive (Infinity = open-ended). */
  from: number;
  until: number;
}

export interface CompiledGrant {
  policy: CompiledPolicy;
  document: GrantDocument;
  /** `<policy id>/<grant id>`: names the rule in decisions and audit records. */
  ruleId: string;
  department: string;
  /** Undefined = every system of the department. */
  systems?: ReadonlySet<string>;
  matters: ReadonlyMap<string, string>;
  fields: readonly string[];
  fieldSet: ReadonlySet<string>;
  mask?: (record: CertificateRecord) => CertificateRecord;
  from: number;
  until: number;
}

export interface PolicyFileInfo {
  file: string;
  sha256: string;
  policyId: string;
}

export interface PolicySet {
  /** Digest over every file's name and content: equal revisions mean identical policy sets. */
  revision: string;
  loadedAt: string;
  files: PolicyFileInfo[];
  policies: CompiledPolicy[];
  grants: CompiledGrant[];
}

/** A problem in a policy file, with its place: file, line, JSON Pointer. */
export type PolicyProblem = DataFileProblem;

export type PolicyLoadResult = { ok: true; set: PolicySet } | { ok: false; problems: PolicyProblem[] };

export interface PolicySource {
  /** Name shown in problems (the file name inside the policies folder). */
  file: string;
  text: string;
}
