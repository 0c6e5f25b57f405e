/**
 * `/metrics` as an operator's Prometheus sees it: a live embedded gateway (PGlite, in-process bus,
 * sample connectors) answers lookups of several outcomes and a batch, and its page passes
 * `promtool check metrics`, counts each lookup by requester, provider, type and outcome, each denial
 * by its reason, shows the live connector instances of every department and the audit log's ages,
 * and labels routes by their templates. Values a caller makes up never become label values.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { usccCheckChar } from '../../gateway/catalog/identifiers.js';
import { loadSchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { loadConfig } from '../../gateway/foundation/config.js';
import { schemasDir } from '../../gateway/foundation/paths.js';
import { type RunningGateway, startGateway } from '../../gateway/gateway.js';
import { createLookupMetrics } from '../../gateway/lookups/lookup-metrics.js';
import { DENIAL_REASONS } from '../../gateway/policy/policy-decision.js';
import { DEMO_DEPARTMENTS } from '../../gateway/registry/demo-bootstrap.js';
import { demoToken, writeTestPolicy } from '../support/gateway-auth.js';
import { lookupBody, PURPOSE } from '../support/lookup-fixtures.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text page (our label values hold no quotes or backslashes). */
function parseSamples(page: string): Sample[] {
  return page
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, name, value] of (match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)) {
        labels[name as string] = value as string;
      }
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });
}

/** The value of the one sample named `name` whose labels include `labels` (0 if there is none). */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

/** Every value the label `label` takes on samples named `name`. */
function labelValues(samples: Sample[], name: string, label: string): string[] {
  const values = samples.filter((sample) => sample.name === name).map((sample) => sample.labels[label]);
  return [...new Set(values.filter((value) => value !== undefined))].sort() as string[];
}

/** `promtool check metrics` on the page: its exit code and what it printed (problems, one a line). */
function promtoolCheckMetrics(page: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new Error('promtool is not installed: apt-get install prometheus (see README).')
          : error,
      ),
    );
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(page);
  });
}

const REQUESTER = 'service-centre';
const unknownCompany = '91350100MA00000X1'.slice(0, 17);
const NOT_FOUND = {
  certificateType: 'business-licence',
  subject: { unifiedSocialCreditCode: unknownCompany + usccCheckChar(unknownCompany) },
  purpose: PURPOSE,
};
const GRANTED = lookupBody('marriage-certificate');
const DENIED = { ...GRANTED, purpose: { ...PURPOSE, matter: 'NOT-GRANTED-0001' } };
const MADE_UP = { ...GRANTED, certificateType: 'made-up-certificate' };

describe('/metrics of a live gateway', () => {
  let dataDir: string;
  let gateway: RunningGateway;
  let token: string;
  let before: Sample[];
  let page: string;
  let after: Sample[];

  const post = async (route: string, body: unknown) => {
    const response = await fetch(`${gateway.url}${route}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: response JSON; the assertions check its shape.
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const scrape = async () => {
    const response = await fetch(`${gateway.url}/metrics`);
    expect(response.status).toBe(200);
    return response.text();
  };
  const delta = (name: string, labels: Record<string, string>) =>
    sampleValue(after, name, labels) - sampleValue(before, name, labels);

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-metrics-'));
    const policiesDir = path.join(dataDir, 'policies');
    await mkdir(policiesDir);
    await writeTestPolicy(policiesDir);
    const config = loadConfig({
      SILOBRIDGE_DATA_DIR: dataDir,
      SILOBRIDGE_POLICIES_DIR: policiesDir,
      SILOBRIDGE_POLICY_WATCH: 'false',
      // A checkpoint after every batch, so the page has a recent one to show.
      SILOBRIDGE_AUDIT_CHECKPOINT_EVERY: '1',
      PORT: '0',
    });
    gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
    token = await demoToken(dataDir);
    // The sample connectors announce themselves just after the gateway starts.
    await vi.waitFor(async () => expect((await post('/v1/lookups', GRANTED)).status).toBe(200), {
      timeout: 20_000,
      interval: 200,
    });

    before = parseSamples(await scrape());
    expect((await post('/v1/lookups', GRANTED)).status).toBe(200);
    const denied = await post('/v1/lookups', DENIED);
    expect(denied.body).toMatchObject({ status: 403, reason: 'matter-not-allowed' });
    expect((await post('/v1/lookups', NOT_FOUND)).status).toBe(404);
    const madeUp = await post('/v1/lookups', MADE_UP);
    expect(madeUp.body).toMatchObject({
      status: 400,
      type: 'https://silobridge.dev/problems/unknown-certificate-type',
    });
    const batch = await post('/v1/lookups:batch', { lookups: [GRANTED, DENIED] });
    expect(batch.body.results.map((result: { status: number }) => result.status)).toEqual([200, 403]);
    page = await scrape();
    after = parseSamples(page);
  }, 90_000);

  afterAll(async () => {
    await gateway?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('passes promtool check metrics', async () => {
    const { code, output } = await promtoolCheckMetrics(page);
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('keeps the usual names of the Node.js and process metrics, and prefixes only its own', () => {
    const names = new Set(after.map((sample) => sample.name));
    expect(names).toContain('process_cpu_seconds_total');
    expect(names).toContain('process_resident_memory_bytes');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
    expect([...names].filter((name) => /^silobridge_(process|nodejs)_/.test(name))).toEqual([]);
    const ours = [...names].filter((name) => !/^(process|nodejs)_/.test(name));
    expect(ours.filter((name) => !name.startsWith('silobridge_'))).toEqual([]);
  });

  it('counts lookups by requester department, provider department, certificate type and outcome', () => {
    const lookups = (providerDepartment: string, certificateType: string, outcome: string) =>
      delta('silobridge_lookups_total', {
        requester_department: REQUESTER,
        provider_department: providerDepartment,
        certificate_type: certificateType,
        outcome,
      });
    // One single lookup and one batch item each.
    expect(lookups('civil-affairs', 'marriage-certificate', 'granted')).toBe(2);
    expect(lookups('civil-affairs', 'marriage-certificate', 'denied')).toBe(2);
    expect(lookups('market-regulation', 'business-licence', 'not-found')).toBe(1);
    expect(lookups('unknown', 'unknown', 'invalid')).toBe(1);
    expect(
      delta('silobridge_lookup_duration_seconds_count', {
        certificate_type: 'marriage-certificate',
        outcome: 'granted',
      }),
    ).toBe(2);
  });

  it('counts denials by their reason', () => {
    expect(
      delta('silobridge_lookup_denials_total', {
        requester_department: REQUESTER,
        certificate_type: 'marriage-certificate',
        reason: 'matter-not-allowed',
      }),
    ).toBe(2);
    expect(labelValues(after, 'silobridge_lookup_denials_total', 'reason')).toEqual(['matter-not-allowed']);
  });

  it('names no made-up certificate type and only registered departments', () => {
    expect(page).not.toContain(MADE_UP.certificateType);
    const registered = DEMO_DEPARTMENTS.map((department) => department.code);
    for (const label of ['requester_department', 'provider_department']) {
      for (const value of labelValues(after, 'silobridge_lookups_total', label)) {
        expect([...registered, 'other', 'unknown']).toContain(value);
      }
    }
  });

  it('shows the live connector instances of every department with a connector', () => {
    const departments = labelValues(after, 'silobridge_connector_live_instances', 'department');
    expect(departments).toEqual([
      'civil-affairs',
      'market-regulation',
      'natural-resources',
      'public-security',
    ]);
    for (const department of departments) {
      expect(sampleValue(after, 'silobridge_connector_live_instances', { department })).toBe(1);
    }
  });

  it("shows how old the audit chain's last checkpoint is and how long the oldest pending event waits", () => {
    expect(sampleValue(after, 'silobridge_audit_checkpoints_total')).toBeGreaterThan(0);
    const checkpointAge = after.find(
      (sample) => sample.name === 'silobridge_audit_last_checkpoint_age_seconds',
    );
    expect(checkpointAge?.value).toBeGreaterThanOrEqual(0);
    // A checkpoint follows every batch here: the last one is as recent as the last lookup.
    expect(checkpointAge?.value).toBeLessThan(10);
    expect(sampleValue(after, 'silobridge_audit_oldest_pending_age_seconds')).toBe(0);
    expect(after.some((sample) => sample.name === 'silobridge_audit_oldest_pending_age_seconds')).toBe(true);
  });

  it('labels routes with their templates, the batch route too', () => {
    const requests = (route: string, status: string) =>
      delta('silobridge_http_request_duration_seconds_count', { method: 'POST', route, status });
    expect(requests('/v1/lookups:batch', '200')).toBe(1);
    expect(requests('/v1/lookups', '200')).toBe(1);
    expect(requests('/v1/lookups', '403')).toBe(1);
    const routes = labelValues(after, 'silobridge_http_request_duration_seconds_count', 'route');
    expect(routes.filter((route) => /[\\^$]/.test(route))).toEqual([]);
  });
});

describe('lookup metrics label values', () => {
  it('count a department that is not registered, a made-up type and an unknown reason under fixed values', async () => {
    const registry = new Registry();
    const catalog = await loadSchemaCatalog(schemasDir);
    const metrics = createLookupMetrics({
      registry,
      catalog,
      denialReasons: DENIAL_REASONS,
      liveConnectors: () => new Map([['forged-department', 3]]),
      replyStats: () => ({ lateReplies: 0, unknownReplies: 0 }),
    });
    metrics.setDepartments(['service-centre', 'civil-affairs'], ['civil-affairs']);
    for (let i = 0; i < 50; i++) {
      metrics.observe({
        requesterDepartment: `hostile-${i}`,
        providerDepartment: `provider-${i}`,
        certificateType: `made-up-${i}`,
        outcome: 'denied',
        reason: `reason-${i}`,
        seconds: 0.01,
      });
    }
    const samples = parseSamples(await registry.metrics());
    expect(sampleValue(samples, 'silobridge_lookups_total', { requester_department: 'other' })).toBe(50);
    expect(
      sampleValue(samples, 'silobridge_lookup_denials_total', {
        requester_department: 'other',
        certificate_type: 'unknown',
        reason: 'other',
      }),
    ).toBe(50);
    expect(labelValues(samples, 'silobridge_lookups_total', 'provider_department')).toEqual(['unknown']);
    expect(labelValues(samples, 'silobridge_connector_live_instances', 'department')).toEqual([
      'civil-affairs',
    ]);
    expect(sampleValue(samples, 'silobridge_connector_live_instances', { department: 'civil-affairs' })).toBe(
      0,
    );
    expect(await registry.metrics()).not.toMatch(/hostile|made-up|reason-|provider-|forged/);
  });
});
