/**
 * An evidence bundle: every evidence item a matter names (required and optional) fetched in parallel
 * through the lookup service (an item's alternatives one after the other, until one is found), so policy, audit, the department's signature and
 * masking are exactly a single lookup's; each lookup's audit event carries the bundle id, and all
 * of them wait for providers until one shared deadline. The answer lists each item with its outcome,
 * names the required evidence not obtained (with its alternatives, so the officer knows what to ask
 * the applicant for) and is signed by the gateway as a whole.
 */
import { randomUUID } from 'node:crypto';
import type { Requester } from '../access/lookup-terms.js';
import { GatewayError } from '../foundation/errors.js';
import type { Logger } from '../foundation/logger.js';
import type { DepartmentSignature, LookupResult, LookupService } from '../lookups/lookup-service.js';
import type { BundleClaims } from './bundle-signature.js';
import { type EvidenceRequest, purposeOf } from './evidence-request.js';
import { type Matter, subjectFor, type Text } from './matter-catalogue.js';

export const ITEM_STATUSES = [
  'found',
  'not-found',
  'denied',
  'timed-out',
  'provider-error',
  'unavailable',
] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

export interface BundleItem {
  /** The evidence item of the matter this certificate type proves. */
  evidence: string;
  certificateType: string;
  required: boolean;
  status: ItemStatus;
  /** The lookup's id in the audit log. */
  lookupId: string;
  /** Why it was not found: the policy's denial reason, or the lookup's problem type. */
  reason?: string;
  detail?: string;
  provider?: string;
  schemaVersion?: number;
  record?: Record<string, unknown>;
  recordDigest?: string;
  retrievedAt?: string;
  /** The gateway's signature of this record, exactly as a lookup response's. */
  signature?: string;
  departmentSignature?: DepartmentSignature;
}

export interface MissingEvidence {
  evidence: string;
  name: Text;
  /** Any one of these certificates would do. */
  anyOf: string[];
  otherwise?: Text;
}

export interface EvidenceBundle {
  bundleId: string;
  matter: string;
  requester: Requester;
  createdAt: string;
  items: BundleItem[];
  missing: MissingEvidence[];
  signature: string;
}

export interface EvidenceServiceOptions {
  lookups: Pick<LookupService, 'lookup'>;
  signLookup: (result: LookupResult, requester: Requester) => Promise<string>;
  signBundle: (claims: BundleClaims) => Promise<string>;
  /** The one deadline of the bundle's lookups (the lookup timeout). */
  timeoutMs: number;
  logger: Logger;
}

export interface EvidenceService {
  collect(matter: Matter, request: EvidenceRequest, requester: Requester): Promise<EvidenceBundle>;
}

function statusOf(error: GatewayError): ItemStatus {
  if (error.status === 403 || error.status === 429) return 'denied';
  if (error.status === 404) return 'not-found';
  if (error.status === 504) return 'timed-out';
  if (error.status === 502) return 'provider-error';
  return 'unavailable';
}

export function createEvidenceService(options: EvidenceServiceOptions): EvidenceService {
  const { lookups, signLookup, signBundle, logger } = options;

  return {
    async collect(matter, request, requester) {
      const bundleId = randomUUID();
      const createdAt = new Date().toISOString();
      const deadline = Date.now() + options.timeoutMs;
      const purpose = purposeOf(matter, request);
      const fetchItem = async (
        evidence: Matter['evidence'][number],
        certificateType: string,
      ): Promise<BundleItem> => {
        const base = { evidence: evidence.id, certificateType, required: evidence.required };
        const body = {
          certificateType,
          subject: subjectFor(matter, certificateType, request.applicant),
          purpose,
        };
        let result: LookupResult;
        try {
          result = await lookups.lookup(body, requester, { bundleId, deadline });
        } catch (error) {
          return { ...base, ...failed(error, bundleId, logger) };
        }
        return {
          ...base,
          status: 'found',
          lookupId: result.lookupId,
          provider: result.provider,
          schemaVersion: result.schemaVersion,
          record: result.record,
          recordDigest: result.recordDigest,
          retrievedAt: result.retrievedAt,
          signature: await signLookup(result, requester),
          departmentSignature: result.departmentSignature,
        };
      };
      // Evidence items in parallel; an item's alternatives in the catalogue's order, stopping at the
      // first found: no more personal data is fetched than the matter needs.
      const perEvidence = await Promise.all(
        matter.evidence.map(async (evidence) => {
          const tried: BundleItem[] = [];
          for (const certificateType of evidence.anyOf) {
            const item = await fetchItem(evidence, certificateType);
            tried.push(item);
            if (item.status === 'found') break;
          }
          return tried;
        }),
      );
      const items = perEvidence.flat();
      const missing = matter.evidence
        .filter((evidence) => evidence.required)
        .filter((evidence) => !items.some((item) => item.evidence === evidence.id && item.status === 'found'))
        .map((evidence) => ({
          evidence: evidence.id,
          name: evidence.name,
          anyOf: [...evidence.anyOf],
          ...(evidence.otherwise ? { otherwise: evidence.otherwise } : {}),
        }));
      const signature = await signBundle({
        bundleId,
        matter: matter.code,
        requester,
        createdAt,
        items: items.map((item) => ({
          evidence: item.evidence,
          certificateType: item.certificateType,
          lookupId: item.lookupId,
          status: item.status,
          ...(item.recordDigest ? { recordDigest: item.recordDigest } : {}),
        })),
      });
      return { bundleId, matter: matter.code, requester, createdAt, items, missing, signature };
    },
  };
}

/** A lookup that did not find a record, as a bundle item (the lookup service audited it already). */
function failed(
  error: unknown,
  bundleId: string,
  logger: Logger,
): Pick<BundleItem, 'status' | 'lookupId' | 'reason' | 'detail' | 'provider'> {
  if (!(error instanceof GatewayError)) {
    logger.error({ err: error, bundleId }, 'evidence bundle item failed');
    return { status: 'unavailable', lookupId: '', reason: 'internal-error' };
  }
  const { extensions } = error;
  if (error.status >= 500) logger.warn({ problem: error.problem, bundleId }, 'evidence bundle item failed');
  return {
    status: statusOf(error),
    lookupId: typeof extensions.lookupId === 'string' ? extensions.lookupId : '',
    reason: typeof extensions.reason === 'string' ? extensions.reason : error.problem,
    detail: error.message,
    ...(typeof extensions.provider === 'string' ? { provider: extensions.provider } : {}),
  };
}
