/**
 * The OpenAPI document against the gateway it describes: a live gateway (embedded PGlite, in-process
 * bus) serves it at /openapi.json, Redocly's recommended ruleset finds nothing in it (redocly.yaml),
 * and it describes exactly the routes Express has: every route described, every described operation
 * routed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Express } from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { loadConfig } from '../../gateway/foundation/config.js';
import { projectRoot, schemasDir } from '../../gateway/foundation/paths.js';
import { type RunningGateway, startGateway } from '../../gateway/gateway.js';
import { buildOpenApiDocument } from '../../gateway/openapi/openapi-document.js';

/**
 * Routes deliberately left out of the document, by method and path prefix, and why. Anything else
 * Express routes must be described.
 */
const UNDESCRIBED: Array<{ method: string; prefix: string; except?: string; why: string }> = [
  {
    method: 'GET',
    prefix: '/console/',
    except: '/console/session',
    why: 'the console’s pages, scripts and styles: a browser UI served as files, not API',
  },
  {
    method: 'GET',
    prefix: '/v1/audit/subjects/report',
    why: 'answers only 405 (identifiers must not travel in URLs); the POST operation says so',
  },
];

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
  slash?: boolean;
}

/**
 * An Express path as an OpenAPI path: `/v1/x/:id` is `/v1/x/{id}` and an escaped character (`\\:`)
 * is itself; a regex only if it is a literal (`/^\/v1\/lookups:batch$/`).
 */
function openApiPath(routePath: unknown): string {
  if (routePath instanceof RegExp) {
    const literal = routePath.source.replace(/^\^/, '').replace(/\$$/, '').replaceAll('\\/', '/');
    if (/[\\^$.*+?()[\]{}|]/.test(literal)) throw new Error(`route ${routePath} is not a literal path`);
    return literal;
  }
  if (typeof routePath !== 'string') throw new Error(`route path ${String(routePath)} is not a string`);
  let result = '';
  for (let i = 0; i < routePath.length; i += 1) {
    const char = routePath[i] as string;
    if (char === '\\') {
      result += routePath[i + 1] ?? '';
      i += 1;
    } else if (char === ':') {
      const name = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(routePath.slice(i + 1))?.[0];
      if (!name) throw new Error(`route ${routePath}: a parameter without a plain name`);
      result += `{${name}}`;
      i += name.length;
    } else if ('*{}()'.includes(char)) {
      throw new Error(`route ${routePath}: wildcards and optional parts are not handled here`);
    } else {
      result += char;
    }
  }
  return result;
}

/** `METHOD /path` of every route, walking nested routers (a router mounted at a prefix adds it). */
function expressRoutes(stack: Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const routePath = prefix + openApiPath(layer.route.path);
      return Object.keys(layer.route.methods)
        .filter((method) => method !== '_all')
        .map((method) => `${method.toUpperCase()} ${routePath}`);
    }
    if (!layer.handle?.stack) return [];
    if (layer.slash || layer.rawPath === '/') return expressRoutes(layer.handle.stack, prefix);
    if (typeof layer.rawPath !== 'string') throw new Error(`a router is mounted at ${String(layer.rawPath)}`);
    return expressRoutes(layer.handle.stack, prefix + layer.rawPath);
  });
}

function describedOperations(document: Record<string, unknown>): string[] {
  const paths = document.paths as Record<string, Record<string, unknown>>;
  return Object.entries(paths).flatMap(([route, item]) =>
    Object.keys(item)
      .filter((key) => HTTP_METHODS.includes(key))
      .map((method) => `${method.toUpperCase()} ${route}`),
  );
}

function isUndescribed(operation: string): boolean {
  const [method, route = ''] = operation.split(' ');
  return UNDESCRIBED.some(
    (rule) => rule.method === method && route.startsWith(rule.prefix) && route !== rule.except,
  );
}

let gateway: RunningGateway;
let dataDir: string;
let served: { status: number; contentType: string | null; body: unknown };

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-openapi-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    SILOBRIDGE_DATA_DIR: dataDir,
    SILOBRIDGE_DEMO_IDENTITIES: 'false',
    // With the sample connectors, so the demo's own route (POST /v1/sample-connectors/changes) is walked too.
    SILOBRIDGE_SAMPLE_CONNECTORS: 'true',
    SILOBRIDGE_POLICY_WATCH: 'false',
  });
  gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
  const response = await fetch(`${gateway.url}/openapi.json`);
  served = {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: await response.json(),
  };
}, 90_000);

afterAll(async () => {
  await gateway?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('GET /openapi.json', () => {
  it('serves the OpenAPI 3.1 document built from the schema files, to anyone', async () => {
    expect(served.status, 'wire createOpenApiRouter({ catalog }) into gateway/gateway.ts').toBe(200);
    expect(served.contentType).toMatch(/^application\/json/);
    const built = await buildOpenApiDocument(await loadSchemaCatalog(schemasDir));
    expect(served.body).toEqual(JSON.parse(JSON.stringify(built)));
    expect(built.openapi).toBe('3.1.0');
  });

  it('passes Redocly’s recommended ruleset with no errors and no warnings', async () => {
    expect(served.status).toBe(200);
    const file = path.join(dataDir, 'openapi.json');
    await writeFile(file, JSON.stringify(served.body, null, 2));
    const redocly = path.join(projectRoot, 'node_modules', '.bin', 'redocly');
    const { stdout } = await promisify(execFile)(
      redocly,
      ['lint', '--config', path.join(projectRoot, 'redocly.yaml'), '--format', 'json', file],
      {
        cwd: projectRoot,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        maxBuffer: 16 * 1024 * 1024,
      },
    ).catch((error: { stdout?: string; stderr?: string }) => {
      if (!error.stdout) throw new Error(`redocly lint failed: ${error.stderr}`);
      return { stdout: error.stdout };
    });
    const report = JSON.parse(stdout) as {
      totals: { errors: number; warnings: number };
      problems: Array<{
        ruleId: string;
        severity: string;
        message: string;
        location: Array<{ pointer?: string }>;
      }>;
    };
    const messages = report.problems.map(
      (problem) =>
        `${problem.severity} ${problem.ruleId} at ${problem.location[0]?.pointer ?? '?'}: ${problem.message}`,
    );
    expect(messages).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);
});

describe('the document and the Express routes', () => {
  let routes: string[];
  let described: string[];

  beforeAll(async () => {
    const app = gateway.app as Express & { router: { stack: Layer[] } };
    routes = [...new Set(expressRoutes(app.router.stack))].sort();
    described = describedOperations(await buildOpenApiDocument(await loadSchemaCatalog(schemasDir))).sort();
  });

  it('finds the routes of every capability (the walk reaches nested routers and regex paths)', () => {
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /healthz',
        'POST /v1/lookups',
        'POST /v1/lookups:batch',
        'GET /v1/audit/events/{sequence}',
        'DELETE /v1/systems/{department}/{system}/keys/{kid}',
      ]),
    );
  });

  it('describes every route Express has (except the documented exclusions)', () => {
    const undescribed = routes.filter((route) => !described.includes(route) && !isUndescribed(route));
    expect(undescribed, 'routes missing from the OpenAPI document').toEqual([]);
  });

  it('routes every operation it describes', () => {
    const unrouted = described.filter((operation) => !routes.includes(operation));
    expect(unrouted, 'operations described but not routed by the gateway').toEqual([]);
  });

  it('leaves out only what it says it leaves out, and only what exists', () => {
    expect(described.filter(isUndescribed)).toEqual([]);
    for (const rule of UNDESCRIBED.filter((rule) => !rule.prefix.endsWith('/'))) {
      expect(routes, rule.why).toContain(`${rule.method} ${rule.prefix}`);
    }
  });
});
