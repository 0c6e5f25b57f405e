/**
 * One process at a time on a folder: two processes that open the same embedded (PGlite) database
 * corrupt it. The owner creates `<folder>.lock` atomically (O_EXCL) with its pid, host, start time and
 * command, touches it every few seconds while it holds it, and removes it on release (and, best
 * effort, when the process exits). A lock left behind by a process that is provably gone is taken
 * over with a warning: on this host, when its pid no longer runs or the machine has restarted since;
 * from another host (a shared volume, another container), when it has not been touched for a while.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, uptime } from 'node:os';
import path from 'node:path';

/** What a lock file holds. */
export interface LockOwner {
  pid: number;
  host: string;
  /** ISO 8601: when the owner took the lock. */
  since: string;
  /** What the owner is, e.g. `the gateway` or `silobridge systems list`. */
  command: string;
  /** Tells apart two owners with the same pid (a process restarted under its predecessor's pid). */
  token: string;
}

export interface DirectoryLockOptions {
  /** Names the folder in messages; default `the folder <dir>`. */
  what?: string;
  /** The sentence that tells the user what to do when another process holds it. */
  advice?: string;
  /** What this process is; default from `process.argv` (see describeCommand). */
  command?: string;
  /** Where a take-over of a stale lock is reported; default one line on stderr. */
  warn?: (message: string) => void;
  /** How often the owner touches the lock file (default 10 s). */
  refreshMs?: number;
  /** A lock from another host untouched for this long is stale (default 60 s). */
  staleAfterMs?: number;
}

export interface DirectoryLock {
  readonly file: string;
  readonly owner: LockOwner;
  /** Removes the lock file if it is still this one; safe to call twice. */
  release(): Promise<void>;
}

/** Another live process (or another open in this one) holds the folder. */
export class DirectoryLockedError extends Error {
  constructor(
    message: string,
    readonly lockFile: string,
    readonly owner: LockOwner | undefined,
  ) {
    super(message);
    this.name = 'DirectoryLockedError';
  }
}

const DEFAULT_REFRESH_MS = 10_000;
const DEFAULT_STALE_AFTER_MS = 60_000;
/** Clock adjustments around a restart: a lock must predate the boot by this much to count as older. */
const BOOT_SLACK_MS = 60_000;
const MAX_COMMAND_LENGTH = 200;

/** The locks this process holds, by file, with a synchronous release for process exit. */
type HeldLocks = Map<string, () => void>;
const HELD_KEY = Symbol.for('silobridge.directory-locks');
const globalHolder = globalThis as typeof globalThis & { [HELD_KEY]?: HeldLocks };

function heldLocks(): HeldLocks {
  let held = globalHolder[HELD_KEY];
  if (!held) {
    const created: HeldLocks = new Map();
    held = created;
    globalHolder[HELD_KEY] = created;
    process.on('exit', () => {
      for (const release of created.values()) release();
    });
  }
  return held;
}

export function lockFileOf(dir: string): string {
  const resolved = path.resolve(dir);
  return path.join(path.dirname(resolved), `${path.basename(resolved)}.lock`);
}

/** A short description of a process from its argv: `the gateway`, `silobridge init`, or `node <script> ...`. */
export function describeCommand(argv: readonly string[] = process.argv): string {
  const [executable = 'node', script = '', ...args] = argv;
  const name = path.basename(script).replace(/\.[cm]?[jt]s$/, '');
  let described: string;
  if (name === 'main' && path.basename(path.dirname(script)) === 'gateway') described = 'the gateway';
  else if (name === 'silobridge' && args[0] === 'serve') described = 'the gateway (silobridge serve)';
  else if (name === 'silobridge') described = ['silobridge', ...args].join(' ');
  else described = [path.basename(executable), script, ...args].filter(Boolean).join(' ');
  return described.length > MAX_COMMAND_LENGTH
    ? `${described.slice(0, MAX_COMMAND_LENGTH - 3)}...`
    : described;
}

/** Whether a process with this pid runs on this host (EPERM: it does, as another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockOwner>;
    if (!Number.isInteger(value.pid) || typeof value.host !== 'string' || typeof value.since !== 'string')
      return undefined;
    return {
      pid: value.pid as number,
      host: value.host,
      since: value.since,
      command: typeof value.command === 'string' ? value.command : 'unknown command',
      token: typeof value.token === 'string' ? value.token : '',
    };
  } catch {
    return undefined;
  }
}

interface FoundLock {
  raw: string;
  owner: LockOwner | undefined;
  modifiedMs: number;
}

/** The lock file as it is now; undefined if it has just gone. */
async function readLock(file: string): Promise<FoundLock | undefined> {
  try {
    const [raw, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    return { raw, owner: parseOwner(raw), modifiedMs: info.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Why the lock is stale, or undefined while its owner may still be running. */
function staleReason(found: FoundLock, staleAfterMs: number): string | undefined {
  const { owner } = found;
  const untouchedMs = Date.now() - found.modifiedMs;
  const untouched = `it has not been refreshed for ${Math.round(untouchedMs / 1000)} s`;
  if (!owner) return untouchedMs > staleAfterMs ? `it cannot be read and ${untouched}` : undefined;
  if (owner.host !== hostname())
    return untouchedMs > staleAfterMs ? `it comes from host ${owner.host} and ${untouched}` : undefined;
  if (owner.pid === process.pid) return `pid ${owner.pid} is now this process, so its owner is gone`;
  const bootMs = Date.now() - uptime() * 1000;
  if (Date.parse(owner.since) < bootMs - BOOT_SLACK_MS) return 'this machine has restarted since';
  if (!isAlive(owner.pid)) return `pid ${owner.pid} is no longer running`;
  return undefined;
}

function describeOwner(owner: LockOwner): string {
  const where = owner.host === hostname() ? 'this host' : `host ${owner.host}`;
  return `pid ${owner.pid} on ${where} (${owner.command}), since ${owner.since}`;
}

/**
 * Moves the stale lock aside, and removes it only if it is still the one judged stale: of two
 * processes taking over the same stale lock at once, the slower one does not remove the faster's.
 */
async function removeStale(file: string, found: FoundLock, token: string): Promise<void> {
  const aside = `${file}.${token}.stale`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => found.raw);
  if (moved !== found.raw) await link(aside, file).catch(() => {});
  await rm(aside, { force: true });
}

/**
 * Takes the folder's lock, or throws DirectoryLockedError naming the process that holds it. Opening
 * a folder this process already holds is refused too (two PGlite instances on one folder corrupt it
 * just the same); release the first lock before taking it again.
 */
export async function lockDirectory(dir: string, options: DirectoryLockOptions = {}): Promise<DirectoryLock> {
  const file = lockFileOf(dir);
  const what = options.what ?? `the folder ${path.resolve(dir)}`;
  const warn = options.warn ?? ((message: string) => process.stderr.write(`silobridge: ${message}\n`));
  const held = heldLocks();
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    command: options.command ?? describeCommand(),
    token: randomUUID(),
  };
  const content = `${JSON.stringify(owner, null, 2)}\n`;

  for (let attempt = 0; attempt < 5; attempt += 1) {
    if (held.has(file)) {
      throw new DirectoryLockedError(
        `${what} is already open in this process (pid ${process.pid}): close it before opening it again.`,
        file,
        undefined,
      );
    }
    // Reserved before the file exists: another open in this process that finds the file while this
    // one is still writing it must see it as ours, not as a stale lock of this pid to take over.
    held.set(file, () => {});
    try {
      await writeFile(file, content, { flag: 'wx', mode: 0o644 });
      return holdLock(file, owner, content, options.refreshMs ?? DEFAULT_REFRESH_MS);
    } catch (error) {
      held.delete(file);
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const found = await readLock(file);
    // Gone meanwhile, or taken by another open in this process while we read: look again.
    if (!found || held.has(file)) continue;
    const reason = staleReason(found, options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS);
    if (reason === undefined) {
      const holder = found.owner
        ? `by another process: ${describeOwner(found.owner)}`
        : 'by another process (its lock file cannot be read)';
      const advice = options.advice ? ` ${options.advice}` : ' Stop that process first.';
      throw new DirectoryLockedError(
        `${what} is in use ${holder}.${advice} (lock file: ${file})`,
        file,
        found.owner,
      );
    }
    await removeStale(file, found, owner.token);
    const left = found.owner ? `left by ${describeOwner(found.owner)}` : 'that cannot be read';
    warn(`taking over the stale lock on ${what} ${left}: ${reason} (lock file: ${file})`);
  }
  throw new DirectoryLockedError(
    `${what}: could not take its lock file ${file}, which other processes keep changing; try again.`,
    file,
    undefined,
  );
}

function holdLock(file: string, owner: LockOwner, content: string, refreshMs: number): DirectoryLock {
  const held = heldLocks();
  // Touching the file tells processes on other hosts that share the folder that its owner still runs.
  const refresh = setInterval(() => {
    const now = new Date();
    utimes(file, now, now).catch(() => {});
  }, refreshMs);
  refresh.unref();
  let released = false;
  const stop = () => {
    released = true;
    clearInterval(refresh);
    held.delete(file);
  };
  held.set(file, () => {
    stop();
    try {
      if (readFileSync(file, 'utf8') === content) unlinkSync(file);
    } catch {
      // Best effort while the process exits.
    }
  });
  return {
    file,
    owner,
    async release() {
      if (released) return;
      stop();
      const current = await readFile(file, 'utf8').catch(() => undefined);
      if (current === content) await unlink(file).catch(() => {});
    },
  };
}
