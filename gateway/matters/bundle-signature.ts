/**
 * The gateway's signature on an evidence bundle: a compact JWS (ES256, the keys at
 * /.well-known/jwks.json) binding the bundle id, the matter, the requester and, per item, its lookup
 * id, status and record digest. Each found record is also signed on its own, as a lookup response
 * is, so an item taken out of the bundle still proves itself; the bundle signature proves which items
 * were asked for together and what became of each.
 */
import type { Requester } from '../access/lookup-terms.js';
import { type JsonWebKeySet, verifyCompact } from '../signing/jws.js';
import { DEFAULT_ISSUER } from '../signing/response-signer.js';
import type { SigningKeyRing } from '../signing/signing-keys.js';

export const EVIDENCE_BUNDLE_TYP = 'silobridge-evidence-bundle+jws';

export interface BundleItemClaims {
  evidence: string;
  certificateType: string;
  lookupId: string;
  status: string;
  /** Hex SHA-256 of the released record's canonical JSON (RFC 8785); only when found. */
  recordDigest?: string;
}

export interface BundleClaims {
  bundleId: string;
  matter: string;
  requester: Requester;
  createdAt: string;
  items: BundleItemClaims[];
}

export interface SignedBundlePayload extends BundleClaims {
  iss: string;
  /** Seconds since the epoch, when the gateway signed. */
  iat: number;
}

export function createBundleSigner(keys: Pick<SigningKeyRing, 'sign'>, issuer = DEFAULT_ISSUER) {
  return (claims: BundleClaims): Promise<string> => {
    const payload: SignedBundlePayload = {
      iss: issuer,
      iat: Math.floor(Date.now() / 1000),
      bundleId: claims.bundleId,
      matter: claims.matter,
      requester: claims.requester.system
        ? { department: claims.requester.department, system: claims.requester.system }
        : { department: claims.requester.department },
      createdAt: claims.createdAt,
      items: claims.items.map((item) => ({
        evidence: item.evidence,
        certificateType: item.certificateType,
        lookupId: item.lookupId,
        status: item.status,
        ...(item.recordDigest ? { recordDigest: item.recordDigest } : {}),
      })),
    };
    return keys.sign(payload, EVIDENCE_BUNDLE_TYP);
  };
}

/** Checks a bundle signature against a JWKS; resolves with what it signed, rejects with a SignatureError. */
export async function verifyEvidenceBundle(jws: string, jwks: JsonWebKeySet): Promise<SignedBundlePayload> {
  return (await verifyCompact<SignedBundlePayload>(jws, jwks, EVIDENCE_BUNDLE_TYP)).payload;
}
