/**
 * Why a bearer token was refused, one stable problem type per cause, so a department team can tell an
 * expired token from a wrong audience or a key they forgot to register. Details name claims and key
 * ids, never key material or the token itself.
 */
import { UnauthenticatedError } from '../access/caller.js';

export const TOKEN_PROBLEMS = [
  'token-missing',
  'token-malformed',
  'token-algorithm-not-allowed',
  'token-header-not-allowed',
  'token-missing-key-id',
  'token-missing-claim',
  'token-unknown-issuer',
  'token-system-disabled',
  'token-unknown-key',
  'token-key-retired',
  'token-bad-signature',
  'token-expired',
  'token-not-yet-valid',
  'token-lifetime-too-long',
  'token-wrong-audience',
  'token-subject-mismatch',
] as const;
export type TokenProblem = (typeof TOKEN_PROBLEMS)[number];

/** RFC 6750 error descriptions: fixed text, so nothing a caller sent is echoed into a header. */
const DESCRIPTIONS: Record<TokenProblem, string> = {
  'token-missing': 'no bearer token',
  'token-malformed': 'the token is not a compact JWS',
  'token-algorithm-not-allowed': 'algorithm not allowed for this key',
  'token-header-not-allowed': 'header parameter not allowed',
  'token-missing-key-id': 'kid missing',
  'token-missing-claim': 'required claim missing',
  'token-unknown-issuer': 'unknown issuer',
  'token-system-disabled': 'system disabled',
  'token-unknown-key': 'unknown key',
  'token-key-retired': 'key retired',
  'token-bad-signature': 'signature invalid',
  'token-expired': 'token expired',
  'token-not-yet-valid': 'token not yet valid',
  'token-lifetime-too-long': 'token lifetime too long',
  'token-wrong-audience': 'wrong audience',
  'token-subject-mismatch': 'sub must equal iss',
};

export const AUTH_REALM = 'silobridge';

/** What the refused token claimed, unverified: for the audit log only, never for decisions. */
export interface ClaimedIdentity {
  issuer?: string;
  keyId?: string;
}

export class TokenRejectedError extends UnauthenticatedError {
  constructor(
    readonly tokenProblem: TokenProblem,
    detail: string,
    readonly claimed: ClaimedIdentity = {},
    extensions: Record<string, unknown> = {},
  ) {
    super(detail, tokenProblem);
    Object.assign(this.extensions, extensions);
    // RFC 6750 section 3: no error code when the request carried no credentials at all.
    this.headers['WWW-Authenticate'] =
      tokenProblem === 'token-missing'
        ? `Bearer realm="${AUTH_REALM}"`
        : `Bearer realm="${AUTH_REALM}", error="invalid_token", error_description="${DESCRIPTIONS[tokenProblem]}"`;
  }
}
