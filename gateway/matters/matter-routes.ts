/**
 * GET /v1/matters and GET /v1/matters/{code}: what a matter needs and what the caller's policy lets it
 * fetch for it. POST /v1/matters/{code}/evidence: every certificate the matter names, fetched at once
 * for one applicant and answered as one signed bundle. All need the `lookup` role.
 */
import { type RequestHandler, Router } from 'express';
import { callerOf, requesterOf, requireRole } from '../access/caller.js';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import { NotFoundError } from '../foundation/errors.js';
import { parseEvidenceRequest } from './evidence-request.js';
import type { EvidenceService } from './evidence-service.js';
import type { Matter, MatterCatalogue } from './matter-catalogue.js';
import { type EffectivePolicyOf, matterView } from './matter-view.js';

export interface MatterRouterOptions {
  catalogue: MatterCatalogue;
  catalog: Pick<SchemaCatalog, 'get'>;
  effectivePolicy: EffectivePolicyOf;
  evidence: EvidenceService;
  /** Authenticates the caller (sets res.locals.caller) or answers 401. */
  authenticate: RequestHandler;
}

export function createMatterRouter(options: MatterRouterOptions): Router {
  const { catalogue, catalog, effectivePolicy, evidence, authenticate } = options;
  const router = Router();
  const find = (code: string): Matter => {
    const matter = catalogue.get(code);
    if (!matter) {
      throw new NotFoundError(
        `There is no matter '${code.slice(0, 100)}' in the matter catalogue; GET /v1/matters lists them.`,
        'matter-not-found',
      );
    }
    return matter;
  };

  router.get('/v1/matters', authenticate, requireRole('lookup'), (_req, res) => {
    const effective = effectivePolicy(requesterOf(callerOf(res)));
    res.json({ matters: catalogue.list().map((matter) => matterView(matter, catalog, effective)) });
  });

  router.get('/v1/matters/:code', authenticate, requireRole('lookup'), (req, res) => {
    const matter = find(String(req.params.code));
    res.json(matterView(matter, catalog, effectivePolicy(requesterOf(callerOf(res)))));
  });

  router.post('/v1/matters/:code/evidence', authenticate, requireRole('lookup'), async (req, res) => {
    const matter = find(String(req.params.code));
    const request = parseEvidenceRequest(req.body, matter);
    res.json(await evidence.collect(matter, request, requesterOf(callerOf(res))));
  });

  return router;
}
