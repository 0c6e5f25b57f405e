/**
 * Wires the gateway's signatures: its signing key ring (private keys sealed in the database), the
 * response signer for lookup results, and the public JWKS at /.well-known/jwks.json. The audit log
 * signs its checkpoints with the same keys.
 */
import type { Router } from 'express';
import type { Database } from '../storage/database.js';
import { createJwksRouter } from './jwks-routes.js';
import { createResponseSigner, type ResponseSigner } from './response-signer.js';
import { openSigningKeyRing, type SigningKeyRing } from './signing-keys.js';

export interface Signing {
  keys: SigningKeyRing;
  responses: ResponseSigner;
  /** /.well-known/jwks.json: public, mount outside authentication. */
  jwksRouter: Router;
  close(): void;
}

export async function startSigning(options: { database: Database; secret: string }): Promise<Signing> {
  const keys = await openSigningKeyRing(options);
  return {
    keys,
    responses: createResponseSigner(keys),
    jwksRouter: createJwksRouter(keys),
    close: () => keys.close(),
  };
}
