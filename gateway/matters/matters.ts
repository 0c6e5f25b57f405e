/**
 * Wires the matter catalogue (事项清单) and evidence bundles: loads and checks the catalogue in
 * `<policies folder>/matters/` at start (a bad file stops start-up, naming file, line and field), and
 * builds the routes over the lookup service, the policy engine and the gateway's signing keys. The
 * catalogue is read once: restart the gateway to change it (policies reload on their own).
 */
import type { RequestHandler, Router } from 'express';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import type { GatewayConfig } from '../foundation/config.js';
import type { Logger } from '../foundation/logger.js';
import type { LookupService } from '../lookups/lookup-service.js';
import type { PolicyEngine } from '../policy/policy-engine.js';
import { createResponseSigner } from '../signing/response-signer.js';
import type { SigningKeyRing } from '../signing/signing-keys.js';
import { createBundleSigner } from './bundle-signature.js';
import { createEvidenceService } from './evidence-service.js';
import type { MatterCatalogue } from './matter-catalogue.js';
import { loadMatterCatalogue } from './matter-catalogue-loader.js';
import { createMatterRouter } from './matter-routes.js';

export interface MattersOptions {
  config: Pick<GatewayConfig, 'policiesDir' | 'lookupTimeoutMs'>;
  catalog: SchemaCatalog;
  policy: Pick<PolicyEngine, 'effective'>;
  /** The same lookup service as POST /v1/lookups: policy, audit, signatures and masking are a lookup's. */
  lookups: Pick<LookupService, 'lookup'>;
  /** The gateway's signing keys: each found record and each bundle is signed with them. */
  keys: Pick<SigningKeyRing, 'sign'>;
  authenticate: RequestHandler;
  logger: Logger;
}

export interface Matters {
  router: Router;
  catalogue: MatterCatalogue;
}

export async function startMatters(options: MattersOptions): Promise<Matters> {
  const { config, catalog, policy, logger } = options;
  const catalogue = await loadMatterCatalogue(config.policiesDir, catalog);
  logger.info({ matters: catalogue.list().length }, 'matter catalogue loaded');
  const responses = createResponseSigner(options.keys);
  const evidence = createEvidenceService({
    lookups: options.lookups,
    signLookup: (result, requester) => responses.signLookupResponse({ ...result, requester }),
    signBundle: createBundleSigner(options.keys),
    timeoutMs: config.lookupTimeoutMs,
    logger,
  });
  return {
    catalogue,
    router: createMatterRouter({
      catalogue,
      catalog,
      effectivePolicy: (requester) => policy.effective(requester),
      evidence,
      authenticate: options.authenticate,
    }),
  };
}
