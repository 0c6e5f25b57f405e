/**
 * Sharing statistics over HTTP: the data officers' figures and scorecard (role `audit`, mounted
 * after authentication) and the anonymous public summary (department level only, cached).
 */
import { Router } from 'express';
import { requireRole } from '../access/caller.js';
import { statisticsCsv } from './statistics-csv.js';
import { readStatisticsQuery, readSummaryPeriod } from './statistics-params.js';
import type { PublicSummary, StatisticsService } from './statistics-service.js';
import { createSummaryCache } from './summary-cache.js';

/** How long the public summary is kept: anonymous callers share its answers. */
export const PUBLIC_SUMMARY_TTL_MS = 60_000;

export function createStatisticsRouter(service: StatisticsService): Router {
  const router = Router();
  router.use('/v1/statistics', requireRole('audit'));

  router.get('/v1/statistics', async (req, res) => {
    const { query, format } = await readStatisticsQuery(req.query as Record<string, unknown>, service);
    const statistics = await service.statistics(query);
    if (format === 'json') {
      res.json(statistics);
      return;
    }
    const name = `silobridge-statistics-${query.granularity}-${query.from.slice(0, 10)}-${query.to.slice(0, 10)}.csv`;
    res.status(200).type('text/csv; charset=utf-8');
    res.set('Content-Disposition', `attachment; filename="${name}"`);
    res.send(statisticsCsv(statistics));
  });

  router.get('/v1/statistics/scorecard', async (req, res) => {
    const { from, to } = readSummaryPeriod(req.query as Record<string, unknown>, false);
    res.json(await service.scorecard(from, to));
  });

  return router;
}

export function createPublicStatisticsRouter(service: StatisticsService): Router {
  const cached = createSummaryCache<PublicSummary>({
    ttlMs: PUBLIC_SUMMARY_TTL_MS,
    maxEntries: 100,
    maxConcurrent: 2,
  });
  const router = Router();
  router.get('/v1/public/summary', async (req, res) => {
    // Widened to whole hours: callers varying minutes and seconds share the cached answers.
    const { from, to } = readSummaryPeriod(req.query as Record<string, unknown>, true);
    const summary = await cached(`${from}/${to}`, () => service.publicSummary(from, to));
    res.set('Cache-Control', `public, max-age=${PUBLIC_SUMMARY_TTL_MS / 1000}`);
    res.json(summary);
  });
  return router;
}
