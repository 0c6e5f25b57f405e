/**
 * The connector's signing key: the private EC P-256 JWK of one of the department's `connector`
 * systems, read from a file that only its owner may read (as `silobridge keys generate` writes it).
 * Every refusal names the file and says what to do about it.
 */
import { readFile, stat } from 'node:fs/promises';
import {
  createDepartmentSigner,
  type DepartmentSigner,
} from '../../gateway/protocol/department-signature.js';

export interface SigningKeyOptions {
  /** `<department>/<system>`: the system the key is registered for. */
  systemId: string;
  /** Path of the private JWK file. */
  keyFile: string;
  /** The id the key was registered under; default: the JWK's own `kid`. */
  keyId?: string;
}

/** Why a signing key was refused; `setting` is the part of the configuration to fix. */
export class SigningKeyError extends Error {
  constructor(
    readonly setting: 'signingKey' | 'keyId',
    message: string,
  ) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

const GENERATE = 'silobridge keys generate --alg ES256 --out <file>';

/** Reads the key file and makes the signer; a SigningKeyError says what is wrong. */
export async function readSigningKey(options: SigningKeyOptions): Promise<DepartmentSigner> {
  return signerFromJwk(await readPrivateJwkFile(options.keyFile), options);
}

/** The private EC P-256 JWK in `keyFile`, after checking that no one else may read the file. */
export async function readPrivateJwkFile(keyFile: string): Promise<Record<string, unknown>> {
  const refuse = (message: string) => new SigningKeyError('signingKey', message);
  let mode: number;
  try {
    const info = await stat(keyFile);
    if (!info.isFile()) throw refuse(`the key file ${keyFile} is not a file`);
    mode = info.mode;
  } catch (error) {
    if (error instanceof SigningKeyError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw refuse(
      code === 'ENOENT'
        ? `the key file ${keyFile} does not exist (make a key pair with ${GENERATE})`
        : `the key file ${keyFile} cannot be read (${code})`,
    );
  }
  // As gateway/identity/key-files.ts: a private key readable by others is no longer private.
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw refuse(
      `the key file ${keyFile} is open to other users (mode ${octal}): make it private with chmod 600 ${keyFile}`,
    );
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(await readFile(keyFile, 'utf8'));
  } catch (error) {
    if (error instanceof SyntaxError) throw refuse(`the key file ${keyFile} is not a JSON JWK`);
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw refuse(`the key file ${keyFile} cannot be read (${code})`);
  }
  const key = (typeof jwk === 'object' && jwk !== null && !Array.isArray(jwk) ? jwk : {}) as Record<
    string,
    unknown
  >;
  if (key.kty !== 'EC' || key.crv !== 'P-256') {
    const kind =
      typeof key.kty === 'string'
        ? `a ${key.kty}${typeof key.crv === 'string' ? ` ${key.crv}` : ''} key`
        : 'no JWK';
    throw refuse(
      `the key file ${keyFile} holds ${kind}: a connector signs with ES256, an EC P-256 key (${GENERATE})`,
    );
  }
  if (key.d === undefined) {
    throw refuse(`the key file ${keyFile} holds a public key: give the private key file (the one with "d")`);
  }
  return key;
}

/** The signer for `systemId` from a private JWK read by readPrivateJwkFile. */
export function signerFromJwk(jwk: Record<string, unknown>, options: SigningKeyOptions): DepartmentSigner {
  const kid = options.keyId ?? jwk.kid;
  if (typeof kid !== 'string') {
    throw new SigningKeyError(
      'keyId',
      `the key file ${options.keyFile} has no "kid": give the id the key was registered under`,
    );
  }
  try {
    return createDepartmentSigner({ systemId: options.systemId, privateJwk: jwk, kid });
  } catch (error) {
    throw new SigningKeyError(
      'signingKey',
      `the key in ${options.keyFile} cannot sign: ${(error as Error).message}`,
    );
  }
}
