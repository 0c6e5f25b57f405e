/**
 * The policy engine: the `LookupPolicy` the lookup pipeline asks, over the policy set loaded from the
 * policies folder. A reload (file change, SIGHUP, or `reload()`) compiles the whole folder again and
 * swaps it in only if every file is valid and the change is recorded in the audit log; otherwise the
 * previous set stays in force and the problems are logged. Nothing is ever half-applied.
 */
import { type FSWatcher, watch as watchFolder } from 'node:fs';
import type { LookupPolicy, LookupRequest, PolicyDecision, Requester } from '../access/lookup-terms.js';
import type { AuditRecorder } from '../audit/audit-events.js';
import type { Logger } from '../foundation/logger.js';
import { schemasDir } from '../foundation/paths.js';
import type { Database } from '../storage/database.js';
import { type CertificateFields, loadCertificateFields } from './certificate-fields.js';
import { type EffectivePolicy, effectivePolicy } from './effective-policy.js';
import { createLeasedRateLimiter } from './leased-rate-limiter.js';
import { decide } from './policy-decision.js';
import { loadPolicyDirectory } from './policy-loader.js';
import type { PolicyProblem, PolicySet } from './policy-types.js';
import { createRateLimitStore } from './rate-limit-store.js';
import { createRateLimiter, type RateLimiter } from './rate-limiter.js';

export interface PolicyEngineOptions {
  /** The policies folder (`gateway/foundation/paths.ts` `policiesDir`). */
  dir: string;
  logger: Logger;
  audit: AuditRecorder;
  /**
   * On PostgreSQL, rate limits are shared by every instance on the database (leased from
   * `rate_limit_buckets`); otherwise (PGlite, a single process, or none) they are kept in memory.
   */
  database?: Database;
  /** Milliseconds since the epoch; tests move time. */
  now?: () => number;
  /** Checks types and fields against these; default: read from `schemasDir` at every load. */
  certificateFields?: CertificateFields;
  schemasDir?: string;
  /** How long file events settle before a reload. Default 200 ms. */
  debounceMs?: number;
}

export type ReloadResult =
  | { ok: true; changed: boolean; revision: string; previousRevision?: string }
  | { ok: false; revision: string; problems: PolicyProblem[] };

export interface PolicySummary {
  revision: string;
  loadedAt: string;
  files: PolicySet['files'];
  policies: Array<{
    id: string;
    title: string;
    file: string;
    requester: { department: string; systems?: string[] };
    validFrom: string;
    validUntil: string | null;
    grants: number;
  }>;
}

export interface PolicyEngine extends LookupPolicy {
  /**
   * Decides as `authorize` does, without spending the requester's rate: for what is not a lookup but
   * must stay within what a lookup could get (a notice delivered under a change subscription).
   */
  check(requester: Requester, request: LookupRequest): Promise<PolicyDecision>;
  /** Reloads the folder; resolves with what happened (never rejects for a bad file). */
  reload(trigger?: string): Promise<ReloadResult>;
  /**
   * Reloads on file changes in the folder (debounced; `files`, default true) and on SIGHUP (`sighup`,
   * default true). A gateway always takes SIGHUP: unhandled, it would end the process.
   */
  watch(options?: { files?: boolean; sighup?: boolean }): void;
  close(): Promise<void>;
  effective(requester: Requester, at?: number): EffectivePolicy;
  summary(): PolicySummary;
}

export function formatPolicyProblem(problem: PolicyProblem): string {
  const place = `${problem.file}${problem.line ? `:${problem.line}` : ''}`;
  return `${place}${problem.pointer ? ` ${problem.pointer}` : ''}: ${problem.message}`;
}

export class PolicyLoadError extends Error {
  constructor(
    dir: string,
    readonly problems: PolicyProblem[],
  ) {
    super(`The policies in ${dir} are not valid:\n  - ${problems.map(formatPolicyProblem).join('\n  - ')}`);
    this.name = 'PolicyLoadError';
  }
}

function changes(previous: PolicySet | undefined, next: PolicySet) {
  const before = new Map(previous?.files.map((f) => [f.policyId, f.sha256]) ?? []);
  const after = new Map(next.files.map((f) => [f.policyId, f.sha256]));
  return {
    added: [...after.keys()].filter((id) => !before.has(id)),
    removed: [...before.keys()].filter((id) => !after.has(id)),
    changed: [...after.keys()].filter((id) => before.has(id) && before.get(id) !== after.get(id)),
  };
}

const UNLIMITED: RateLimiter = { take: async () => ({ allowed: true }) };

export async function createPolicyEngine(options: PolicyEngineOptions): Promise<PolicyEngine> {
  const { dir, logger, audit } = options;
  const now = options.now ?? Date.now;
  const limiter: RateLimiter =
    options.database?.kind === 'postgres'
      ? createLeasedRateLimiter({
          store: createRateLimitStore(options.database),
          ...(options.now ? { now: options.now } : {}),
        })
      : createRateLimiter(now);
  const debounceMs = options.debounceMs ?? 200;

  // Read once: reloads re-read the policy files, not the schemas.
  const certificateFields =
    options.certificateFields ?? (await loadCertificateFields(options.schemasDir ?? schemasDir));
  const load = () => loadPolicyDirectory(dir, { certificateFields, now });

  const record = (previous: PolicySet | undefined, next: PolicySet, trigger: string) =>
    audit.record({
      kind: 'policy-change',
      at: new Date(now()).toISOString(),
      actor: 'system',
      action: previous ? 'policies.reloaded' : 'policies.loaded',
      target: next.revision,
      details: {
        trigger,
        ...(previous ? { previousRevision: previous.revision } : {}),
        files: next.files,
        ...changes(previous, next),
      },
    });

  const first = await load();
  if (!first.ok) throw new PolicyLoadError(dir, first.problems);
  await record(undefined, first.set, 'start');
  let current = first.set;
  if (current.grants.length === 0)
    logger.warn({ dir }, 'no policy grants anything: every lookup will be denied');
  logger.info({ revision: current.revision, policies: current.files.length }, 'policies loaded');

  async function reloadNow(trigger: string): Promise<ReloadResult> {
    let result: Awaited<ReturnType<typeof load>>;
    try {
      result = await load();
    } catch (error) {
      // e.g. a certificate schema that is not JSON while someone edits it: same as a bad policy file.
      result = { ok: false, problems: [{ file: dir, message: (error as Error).message }] };
    }
    if (!result.ok) {
      logger.error(
        { trigger, problems: result.problems.map(formatPolicyProblem), revision: current.revision },
        'policy reload refused: the previous policies stay in force',
      );
      return { ok: false, revision: current.revision, problems: result.problems };
    }
    const previous = current;
    if (result.set.revision === previous.revision)
      return { ok: true, changed: false, revision: previous.revision };
    try {
      await record(previous, result.set, trigger);
    } catch (error) {
      logger.error({ err: error, trigger }, 'policy reload refused: the change could not be audited');
      return {
        ok: false,
        revision: previous.revision,
        problems: [{ file: '(audit log)', message: (error as Error).message }],
      };
    }
    current = result.set;
    logger.info(
      { trigger, revision: current.revision, previousRevision: previous.revision },
      'policies reloaded',
    );
    return { ok: true, changed: true, revision: current.revision, previousRevision: previous.revision };
  }

  // Reloads run one at a time, in order.
  let queue: Promise<unknown> = Promise.resolve();
  const reload = (trigger = 'manual') => {
    const run = queue.then(() => reloadNow(trigger));
    queue = run.catch((error: unknown) => logger.error({ err: error }, 'policy reload failed'));
    return run;
  };

  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onSighup = () => void reload('SIGHUP');
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload('file-change'), debounceMs);
    timer.unref();
  };

  return {
    async authorize(requester, request) {
      return decide(current, limiter, requester, request, now());
    },
    async check(requester, request) {
      return decide(current, UNLIMITED, requester, request, now());
    },
    reload,
    watch({ files = true, sighup = true } = {}) {
      if (files && !watcher) {
        watcher = watchFolder(dir, { persistent: false }, schedule);
        watcher.on('error', (error) => logger.error({ err: error, dir }, 'cannot watch the policies folder'));
      }
      if (sighup && !process.listeners('SIGHUP').includes(onSighup)) process.on('SIGHUP', onSighup);
    },
    async close() {
      clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
      process.off('SIGHUP', onSighup);
      await queue;
    },
    effective: (requester, at) => effectivePolicy(current, requester, at ?? now()),
    summary: () => ({
      revision: current.revision,
      loadedAt: current.loadedAt,
      files: current.files,
      policies: current.policies.map((policy) => ({
        id: policy.document.id,
        title: policy.document.title,
        file: policy.file,
        requester: policy.document.requester,
        validFrom: new Date(policy.from).toISOString(),
        validUntil: Number.isFinite(policy.until) ? new Date(policy.until).toISOString() : null,
        grants: policy.document.grants.length,
      })),
    }),
  };
}
