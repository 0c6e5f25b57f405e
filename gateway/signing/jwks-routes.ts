/**
 * GET /.well-known/jwks.json: the gateway's public signing keys (RFC 7517), active and retired, for
 * anyone to check a signed lookup response or an audit checkpoint. Public: no authentication.
 */
import { Router } from 'express';
import type { SigningKeyRing } from './signing-keys.js';

export function createJwksRouter(keys: Pick<SigningKeyRing, 'jwks'>): Router {
  const router = Router();
  router.get('/.well-known/jwks.json', async (_req, res) => {
    const jwks = await keys.jwks();
    // Short, so a rotation reaches verifiers soon; a verifier meeting an unknown kid should refetch.
    res.set('Cache-Control', 'public, max-age=60').json(jwks);
  });
  return router;
}
