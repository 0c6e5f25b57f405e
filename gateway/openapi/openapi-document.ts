/**
 * The OpenAPI 3.1 description of the whole HTTP API, built in code from the schemas the gateway
 * validates with (openapi-schemas.ts) and the constants it checks with. Served at /openapi.json
 * (openapi-routes.ts), printed by print-openapi.ts, linted with Redocly (redocly.yaml), and held to
 * the routes Express really has by test/unit/openapi-routes.test.ts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SchemaCatalog } from '../catalog/schema-catalog.js';
import { projectRoot, schemasDir } from '../foundation/paths.js';
import { sharedComponents } from './openapi-components.js';
import {
  BEARER,
  CONSOLE_CSRF,
  CONSOLE_SESSION,
  type JsonObject,
  sharedResponses,
} from './openapi-operations.js';
import { auditPaths } from './openapi-paths-audit.js';
import {
  CONSOLE_COOKIE,
  CONSOLE_CSRF_HEADER,
  consoleComponents,
  consolePaths,
} from './openapi-paths-console.js';
import { lookupComponents, lookupPaths } from './openapi-paths-lookups.js';
import { matterPaths } from './openapi-paths-matters.js';
import { noticePaths } from './openapi-paths-notices.js';
import { publicPaths } from './openapi-paths-public.js';
import { registryPaths } from './openapi-paths-registry.js';
import { reviewComponents, reviewPaths } from './openapi-paths-reviews.js';
import { statisticsComponents, statisticsPaths } from './openapi-paths-statistics.js';
import { loadSharedSchemas } from './openapi-schemas.js';

const DESCRIPTION = `Cross-department data-sharing gateway: approval systems look up certificates held by other
departments, for a lawful purpose, with every access recorded (docs/http-api.md).

Every error is RFC 9457 \`application/problem+json\` with a stable \`type\`
(\`https://silobridge.dev/problems/<name>\`); each operation lists the types it can answer. Any route
may also answer \`400 malformed-path\` (a path that is not UTF-8), \`404 route-not-found\`, and, before
a request has an id, \`400 malformed-request\`, \`408 request-timeout\`, \`417 expectation-failed\` and
\`431 headers-too-large\`.

Authentication: a bearer JWT signed by the calling system's own registered key
(docs/identity-and-policy.md), or the officers' console session. Roles come from the registry only;
\`x-required-roles\` lists the roles of which an operation needs one (empty: any registered system),
and \`x-also-allowed\` who else may call it.`;

const TAGS: Array<[string, string]> = [
  ['lookups', 'Certificate lookups (role `lookup`).'],
  ['notices', 'Change notices: subscriptions, webhook targets, the event stream (docs/notices.md).'],
  ['catalog', 'Certificate types and their schemas.'],
  ['keys', 'Public keys to verify signatures offline.'],
  ['registry', 'Departments, systems and their keys.'],
  ['connectors', 'Connector onboarding (docs/connectors.md).'],
  ['policies', 'The data-sharing policies in force.'],
  ['audit', 'The audit log, for data officers (role `audit`; docs/audit.md).'],
  ['reviews', 'Review sampling of the audit log (role `audit`).'],
  ['statistics', 'Sharing statistics for data officers (role `audit`).'],
  ['public', 'Published aggregates: no token, no personal data.'],
  ['console', 'Signing in to the officers’ console.'],
  ['operations', 'Health, readiness, metrics and this document.'],
];

async function packageVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? '0.0.0';
}

export async function buildOpenApiDocument(catalog: SchemaCatalog): Promise<JsonObject> {
  const shared = await loadSharedSchemas(catalog, schemasDir);
  return {
    openapi: '3.1.0',
    info: {
      title: 'SiloBridge gateway',
      version: await packageVersion(),
      description: DESCRIPTION,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'The gateway serving this document.' }],
    tags: TAGS.map(([name, description]) => ({ name, description })),
    paths: {
      ...lookupPaths(shared),
      ...matterPaths(),
      ...noticePaths(),
      ...publicPaths(),
      ...registryPaths(),
      ...auditPaths(),
      ...reviewPaths(),
      ...statisticsPaths(),
      ...consolePaths(),
    },
    components: {
      responses: sharedResponses,
      securitySchemes: {
        [BEARER]: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'A JWT signed (ES256, RS256 or PS256, as pinned on the key) by the calling system’s registered key: ' +
            '`kid` names the key; `iss` = `sub` = the system id; `aud` the gateway’s audience; `iat` and `exp` ' +
            'at most 15 minutes apart by default. `silobridge token` makes one.',
        },
        [CONSOLE_SESSION]: {
          type: 'apiKey',
          in: 'cookie',
          name: CONSOLE_COOKIE,
          description:
            'The console’s HttpOnly session cookie (POST /console/session); needs `X-CSRF-Token` too.',
        },
        [CONSOLE_CSRF]: {
          type: 'apiKey',
          in: 'header',
          name: CONSOLE_CSRF_HEADER,
          description: 'The `csrfToken` of the console session, with every call made with its cookie.',
        },
      },
      schemas: {
        ...sharedComponents,
        ...lookupComponents(shared),
        ...reviewComponents,
        ...statisticsComponents,
        ...consoleComponents,
        ...shared.components,
      },
    },
  };
}
