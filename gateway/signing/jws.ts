/**
 * Compact JWS (RFC 7515, ES256): the one place the gateway signs and checks signatures. The `typ`
 * header says what a signature is for (a lookup response, an audit checkpoint), and a check insists on
 * it, so a signature made for one purpose is never accepted for another.
 * Signing uses node:crypto directly (asynchronous, on the libuv thread pool): node-jose's ECDSA takes
 * ~850 µs a signature on the event loop, node:crypto ~40 µs, and every lookup response is signed.
 * Checking uses node-jose, as any verifier could.
 */
import { type KeyObject, sign } from 'node:crypto';
import { promisify } from 'node:util';
import jose from 'node-jose';

export interface JsonWebKeySet {
  keys: Array<Record<string, unknown>>;
}

export interface VerifiedJws<Payload> {
  payload: Payload;
  kid: string;
  header: Record<string, unknown>;
}

export const SIGNING_ALGORITHM = 'ES256';

export interface PrivateSigningKey {
  kid: string;
  key: KeyObject;
}

const signAsync = promisify(sign);
const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

export async function signCompact(signer: PrivateSigningKey, payload: object, typ: string): Promise<string> {
  const input = `${base64url(JSON.stringify({ alg: SIGNING_ALGORITHM, kid: signer.kid, typ }))}.${base64url(JSON.stringify(payload))}`;
  // JWS ES256 is the raw r || s (IEEE P1363), not DER.
  const signature = await signAsync('sha256', Buffer.from(input, 'ascii'), {
    key: signer.key,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

export class SignatureError extends Error {}

/** Checks `jws` against the key set (pinned to ES256 and to `typ`); rejects with a SignatureError saying why. */
export async function verifyCompact<Payload>(
  jws: string,
  jwks: JsonWebKeySet,
  typ: string,
): Promise<VerifiedJws<Payload>> {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    throw new SignatureError('not a compact JWS');
  }
  if (header.typ !== typ) throw new SignatureError(`a '${String(header.typ)}' signature, not a '${typ}' one`);
  if (header.alg !== SIGNING_ALGORITHM)
    throw new SignatureError(`algorithm ${String(header.alg)} is not accepted`);
  const keystore = await jose.JWK.asKeyStore({ keys: jwks.keys.filter((key) => key.kid === header.kid) });
  if (keystore.all().length === 0) throw new SignatureError(`no published key has kid ${String(header.kid)}`);
  try {
    const result = await jose.JWS.createVerify(keystore, { algorithms: [SIGNING_ALGORITHM] }).verify(jws);
    return {
      payload: JSON.parse(result.payload.toString('utf8')) as Payload,
      kid: String(header.kid),
      header,
    };
  } catch {
    throw new SignatureError(`the signature does not verify with key ${String(header.kid)}`);
  }
}
