/**
 * Where a CPU profile (`node --cpu-prof`, .cpuprofile) spends its time: self time by area (a package,
 * a gateway capability, Node.js internals, garbage collection), the top functions by self time, and
 * the gateway's own functions by inclusive time (everything they called). Samples under the benchmark
 * harness's own frames (starting and stopping the profiler) are left out.
 *   node --import tsx test/bench/summarise-profile.ts <file.cpuprofile>
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const PACKAGE_AREAS: Array<[RegExp, string]> = [
  [/^(pg|pg-protocol|pg-pool|pg-types|pgpass|pg-connection-string|postgres-\w+)$/, 'PostgreSQL client (pg)'],
  [/^kafkajs$/, 'kafkajs'],
  [
    /^(express|router|body-parser|raw-body|iconv-lite|type-is|content-type|on-finished|finalhandler|send|qs|path-to-regexp|accepts|negotiator|mime-types|media-typer|depd|statuses|http-errors|vary|etag|fresh|cookie|encodeurl|escape-html|parseurl|debug|ms)$/,
    'Express, router, body parsing',
  ],
  [
    /^(pino|pino-http|pino-std-serializers|sonic-boom|fast-redact|@pinojs\/redact|thread-stream|quick-format-unescaped|atomic-sleep|on-exit-leak-free|safe-stable-stringify|fast-safe-stringify)$/,
    'pino logging',
  ],
  [/^(ajv|ajv-formats|fast-deep-equal|fast-uri|json-schema-traverse)$/, 'ajv schema validation'],
  [/^canonicalize$/, 'RFC 8785 canonicalisation'],
  [
    /^(jsonwebtoken|jws|jwa|buffer-equal-constant-time|ecdsa-sig-formatter|semver|lodash\..*)$/,
    'jsonwebtoken',
  ],
  [/^node-jose$/, 'node-jose'],
  [/^prom-client$/, 'prom-client metrics'],
  [/^(tsx|esbuild|get-tsconfig)$/, 'tsx loader'],
  // The harness's own files, transpiled there to run under plain node (plain-node.ts).
  [/^\.cache$/, 'benchmark harness'],
];

export function areaOf(frame: ProfileNode['callFrame']): string {
  const { functionName, url } = frame;
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(program)') return '(program: native, unattributed)';
  if (functionName === '(root)') return '(root)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return PACKAGE_AREAS.find(([pattern]) => pattern.test(pkg))?.[1] ?? `package ${pkg}`;
  const own = /\/(gateway|connectors)\/([^/]+)\//.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (/\/test\//.test(url)) return 'benchmark harness';
  if (url.startsWith('node:')) {
    if (/crypto/.test(url)) return 'Node.js crypto';
    if (/http|_http/.test(url)) return 'Node.js HTTP';
    if (/net|stream|tcp|dns|socket/.test(url)) return 'Node.js net and streams';
    if (/timers|process\/task_queues|async_hooks/.test(url)) return 'Node.js timers, tasks, async hooks';
    return 'Node.js other';
  }
  if (url === '') return 'V8 builtins (JSON, RegExp, ...)';
  return 'other';
}

function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return self;
}

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;

export function summariseProfile(profile: CpuProfile, top = 20): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // The profiler's own work (stopping it, serialising the profile) is not the gateway's.
  const harness = new Map<number, boolean>();
  const inHarness = (id: number): boolean => {
    let known = harness.get(id);
    if (known === undefined) {
      const url = byId.get(id)?.callFrame.url ?? '';
      const up = parent.get(id);
      known = /\/test\/bench\/|^node:inspector/.test(url) || (up !== undefined && inHarness(up));
      harness.set(id, known);
    }
    return known;
  };
  const self = selfTimes(profile);
  for (const id of [...self.keys()]) if (inHarness(id)) self.delete(id);
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const area = areaOf(node.callFrame);
    if (area === '(idle)') continue;
    busy += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name = `${node.callFrame.functionName || '(anonymous)'} ${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  // Inclusive time of the gateway's own functions: each counted once per sample it is on the stack of.
  const inclusive = new Map<string, number>();
  profile.samples.forEach((leaf, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const leafNode = byId.get(leaf);
    if (!leafNode || areaOf(leafNode.callFrame) === '(idle)' || inHarness(leaf)) return;
    const seen = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame || !/\/gateway\//.test(frame.url)) continue;
      const name = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  });
  // The same, with Node.js internals and V8 builtins (socket and file writes, JSON) charged to the
  // package or gateway code that called them; crypto stays its own area, as the cost it is.
  const charged = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node || areaOf(node.callFrame) === '(idle)') continue;
    const area = callerArea(id, byId, parent);
    charged.set(area, (charged.get(area) ?? 0) + us);
  }
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
  return [
    `Busy (not idle): ${(busy / 1e6).toFixed(1)} s of profile.`,
    '',
    'Self time by area (share of busy time):',
    ...sorted(areas).map(([area, us]) => `  ${pct(us, busy).padStart(6)}  ${area}`),
    '',
    'By area, Node.js internals and builtins charged to their caller (crypto kept apart):',
    ...sorted(charged).map(([area, us]) => `  ${pct(us, busy).padStart(6)}  ${area}`),
    '',
    `Top ${top} functions by self time:`,
    ...sorted(functions)
      .slice(0, top)
      .map(([name, us]) => `  ${pct(us, busy).padStart(6)}  ${name}`),
    '',
    `Top ${top} gateway functions by inclusive time:`,
    ...sorted(inclusive)
      .slice(0, top)
      .map(([name, us]) => `  ${pct(us, busy).padStart(6)}  ${name}`),
  ].join('\n');
}

const INTERNAL = /^(Node\.js (?!crypto)|V8 builtins)/;

function callerArea(id: number, byId: Map<number, ProfileNode>, parent: Map<number, number>): string {
  const own = areaOf((byId.get(id) as ProfileNode).callFrame);
  if (!INTERNAL.test(own)) return own;
  for (let at = parent.get(id); at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)?.callFrame;
    if (!frame) break;
    const area = areaOf(frame);
    if (area === 'Node.js crypto') return area;
    if (!INTERNAL.test(area) && !area.startsWith('(')) return area;
  }
  return own;
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\/.*?\/(node_modules|gateway|connectors|test)\//, '$1/');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: summarise-profile.ts <file.cpuprofile>');
  console.log(summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile));
}
