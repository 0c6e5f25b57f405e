/**
 * The gateway's signature on a lookup response: a compact JWS binding the record (by digest), the
 * lookup id, the requester, the certificate type and the time, so an approval system can later prove
 * where a record came from. Anyone can check it with the keys at /.well-known/jwks.json.
 */
import type { JsonWebKeySet } from './jws.js';
import { verifyCompact } from './jws.js';
import type { SigningKeyRing } from './signing-keys.js';

export const LOOKUP_RESPONSE_TYP = 'silobridge-lookup-response+jws';
export const DEFAULT_ISSUER = 'silobridge';

export interface LookupResponseClaims {
  lookupId: string;
  /** Hex SHA-256 of the released record's canonical JSON (RFC 8785), as in the audit log. */
  recordDigest: string;
  requester: { department: string; system?: string };
  retrievedAt: string;
  certificateType: string;
}

export interface SignedLookupPayload extends LookupResponseClaims {
  iss: string;
  /** Seconds since the epoch (JWT convention), when the gateway signed. */
  iat: number;
}

export interface ResponseSigner {
  signLookupResponse(claims: LookupResponseClaims): Promise<string>;
}

export function createResponseSigner(
  keys: Pick<SigningKeyRing, 'sign'>,
  issuer = DEFAULT_ISSUER,
): ResponseSigner {
  return {
    signLookupResponse: (claims) => {
      const payload: SignedLookupPayload = {
        iss: issuer,
        iat: Math.floor(Date.now() / 1000),
        lookupId: claims.lookupId,
        recordDigest: claims.recordDigest,
        requester: claims.requester.system
          ? { department: claims.requester.department, system: claims.requester.system }
          : { department: claims.requester.department },
        retrievedAt: claims.retrievedAt,
        certificateType: claims.certificateType,
      };
      return keys.sign(payload, LOOKUP_RESPONSE_TYP);
    },
  };
}

/** Checks a lookup response signature against a JWKS; resolves with what it signed, rejects with a SignatureError. */
export async function verifyLookupResponse(jws: string, jwks: JsonWebKeySet): Promise<SignedLookupPayload> {
  return (await verifyCompact<SignedLookupPayload>(jws, jwks, LOOKUP_RESPONSE_TYP)).payload;
}
