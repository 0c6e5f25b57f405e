/**
 * The lock that keeps a second process off the embedded database's folder: taken fresh, refused
 * while a live process holds it (naming that process), taken over from a process that is gone,
 * released on close and when the process exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { projectRoot } from '../../gateway/foundation/paths.js';
import {
  DirectoryLockedError,
  describeCommand,
  type LockOwner,
  lockDirectory,
  lockFileOf,
} from '../../gateway/storage/directory-lock.js';
import { createPgliteDatabase } from '../../gateway/storage/pglite-database.js';
import { exitOf, runNode, stopChildProcess } from '../support/child-process.js';

let root: string;
let dir: string;
const children: ChildProcess[] = [];
const warnings: string[] = [];
const warn = (message: string) => void warnings.push(message);

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'silobridge-lock-'));
  dir = path.join(root, 'pgdata');
  warnings.length = 0;
});
afterEach(async () => {
  for (const child of children.splice(0)) await stopChildProcess(child);
  await rm(root, { recursive: true, force: true });
});
afterAll(async () => {
  for (const child of children.splice(0)) await stopChildProcess(child);
});

/** A process of ours that stays alive until the test ends. */
function liveProcess(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

/** The pid of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await exitOf(child);
  return child.pid ?? 0;
}

async function writeLock(owner: Partial<LockOwner>, ageMs = 0): Promise<string> {
  const file = lockFileOf(dir);
  const full: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date(Date.now() - ageMs).toISOString(),
    command: 'the gateway',
    token: 'someone-else',
    ...owner,
  };
  await writeFile(file, JSON.stringify(full));
  if (ageMs > 0) await utimes(file, new Date(Date.now() - ageMs), new Date(Date.now() - ageMs));
  return file;
}

async function ownerOf(file: string): Promise<LockOwner> {
  return JSON.parse(await readFile(file, 'utf8')) as LockOwner;
}

describe('lockDirectory', () => {
  it('takes a fresh lock next to the folder, naming this process, and removes it on release', async () => {
    const lock = await lockDirectory(dir, { command: 'silobridge init', warn });
    expect(lock.file).toBe(path.join(root, 'pgdata.lock'));
    expect(await ownerOf(lock.file)).toMatchObject({
      pid: process.pid,
      host: hostname(),
      command: 'silobridge init',
    });
    expect(Date.parse(lock.owner.since)).toBeLessThanOrEqual(Date.now());
    await lock.release();
    expect(existsSync(lock.file)).toBe(false);
    await lock.release();
    const again = await lockDirectory(dir, { warn });
    await again.release();
    expect(warnings).toEqual([]);
  });

  it('refuses while a live process on this host holds it, naming its pid, what it is and since when', async () => {
    const holder = liveProcess();
    const since = new Date(Date.now() - 1000).toISOString();
    const file = await writeLock({ pid: holder.pid, since, command: 'the gateway' });
    const before = await readFile(file, 'utf8');
    const refusal = lockDirectory(dir, {
      what: 'the embedded database',
      advice: 'Stop the gateway first.',
      warn,
    });
    await expect(refusal).rejects.toThrow(DirectoryLockedError);
    await expect(refusal).rejects.toThrow(
      `the embedded database is in use by another process: pid ${holder.pid} on this host ` +
        `(the gateway), since ${since}. Stop the gateway first. (lock file: ${file})`,
    );
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(warnings).toEqual([]);
  });

  it('takes over a lock left by a pid that no longer runs, and says so', async () => {
    const pid = await deadPid();
    const file = await writeLock({ pid, command: 'silobridge systems list' });
    const lock = await lockDirectory(dir, { warn });
    expect((await ownerOf(file)).pid).toBe(process.pid);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`left by pid ${pid} on this host (silobridge systems list)`);
    expect(warnings[0]).toContain(`pid ${pid} is no longer running`);
    await lock.release();
    expect(existsSync(file)).toBe(false);
  });

  it('takes over a lock with this process’s pid that this process does not hold (a restart under the same pid)', async () => {
    await writeLock({ pid: process.pid, token: 'previous-process' });
    const lock = await lockDirectory(dir, { warn });
    expect(warnings[0]).toContain('is now this process');
    await lock.release();
  });

  it('takes over a lock from before this machine started, even if its pid runs again', async () => {
    const holder = liveProcess();
    await writeLock({ pid: holder.pid, since: '2000-01-01T00:00:00.000Z' });
    const lock = await lockDirectory(dir, { warn });
    expect(warnings[0]).toContain('this machine has restarted since');
    await lock.release();
  });

  it('refuses a lock from another host while it is refreshed, and takes it over once it is not', async () => {
    await writeLock({ pid: 1, host: 'other-host' });
    await expect(lockDirectory(dir, { warn, staleAfterMs: 60_000 })).rejects.toThrow(
      /in use by another process: pid 1 on host other-host \(the gateway\)/,
    );
    await writeLock({ pid: 1, host: 'other-host' }, 120_000);
    const lock = await lockDirectory(dir, { warn, staleAfterMs: 60_000 });
    expect(warnings[0]).toMatch(/it comes from host other-host and it has not been refreshed for 1[12]\d s/);
    await lock.release();
  });

  it('keeps an unreadable lock while it is fresh, and takes it over once it is old', async () => {
    const file = lockFileOf(dir);
    await writeFile(file, '');
    await expect(lockDirectory(dir, { warn })).rejects.toThrow(/its lock file cannot be read/);
    const old = new Date(Date.now() - 120_000);
    await utimes(file, old, old);
    const lock = await lockDirectory(dir, { warn });
    expect(warnings[0]).toContain('it cannot be read');
    await lock.release();
  });

  it('refreshes the lock file while it holds it, so other hosts see it is alive', async () => {
    const lock = await lockDirectory(dir, { warn, refreshMs: 50 });
    const old = new Date(Date.now() - 120_000);
    await utimes(lock.file, old, old);
    await expect.poll(async () => Date.now() - (await stat(lock.file)).mtimeMs).toBeLessThan(10_000);
    await lock.release();
  });

  it('refuses a second open of the same folder in this process until the first is released', async () => {
    const first = await lockDirectory(dir, { warn });
    await expect(lockDirectory(dir, { warn })).rejects.toThrow(
      `is already open in this process (pid ${process.pid})`,
    );
    await first.release();
    const second = await lockDirectory(dir, { warn });
    await second.release();
    expect(warnings).toEqual([]);
  });

  it('lets only one of two opens started at once in this process take it', async () => {
    const results = await Promise.allSettled([lockDirectory(dir, { warn }), lockDirectory(dir, { warn })]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    for (const result of results) if (result.status === 'fulfilled') await result.value.release();
    expect(warnings).toEqual([]);
  });

  it('removes its lock file when the process exits without releasing it', async () => {
    const module = path.join(projectRoot, 'gateway', 'storage', 'directory-lock.ts');
    const script =
      `const { lockDirectory } = await import(${JSON.stringify(module)});` +
      `await lockDirectory(${JSON.stringify(dir)}); process.exit(3);`;
    const result = await runNode(['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(3);
    expect(existsSync(lockFileOf(dir))).toBe(false);
  });
});

describe('describeCommand', () => {
  it('names the gateway and silobridge commands, and other scripts by their command line', () => {
    expect(describeCommand(['/usr/bin/node', '/app/dist/gateway/main.js'])).toBe('the gateway');
    expect(describeCommand(['node', '/app/dist/gateway/cli/silobridge.js', 'serve'])).toBe(
      'the gateway (silobridge serve)',
    );
    expect(describeCommand(['node', '/app/dist/gateway/cli/silobridge.js', 'systems', 'list'])).toBe(
      'silobridge systems list',
    );
    expect(describeCommand(['/usr/bin/node', '/tmp/hold.js', 'x'])).toBe('node /tmp/hold.js x');
    expect(describeCommand(['node', '/tmp/hold.js', 'x'.repeat(500)])).toHaveLength(200);
  });
});

describe('the embedded database', () => {
  it('is locked while open and released on close; in memory it takes no lock', async () => {
    const database = await createPgliteDatabase(dir, { warn });
    try {
      expect((await ownerOf(lockFileOf(dir))).pid).toBe(process.pid);
      await expect(createPgliteDatabase(dir, { warn })).rejects.toThrow(
        `the embedded database ${dir} is already open in this process`,
      );
    } finally {
      await database.close();
    }
    expect(existsSync(lockFileOf(dir))).toBe(false);
    const reopened = await createPgliteDatabase(dir, { warn });
    expect((await reopened.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await reopened.close();
    const inMemory = await createPgliteDatabase(undefined);
    await inMemory.close();
    expect(warnings).toEqual([]);
  }, 60_000);
});
