/**
 * Two processes must never open one embedded database: with a gateway running on a data folder,
 * `silobridge` commands (run from the sources with tsx, as separate processes) and a second gateway
 * refuse with one line naming the gateway's pid, and work again once it has stopped. A gateway that
 * was killed leaves a lock the next command takes over.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../gateway/foundation/paths.js';
import { exitOf, runNode, stopChildProcess } from '../support/child-process.js';

const gatewayMain = path.join(projectRoot, 'gateway', 'main.ts');
const cliMain = path.join(projectRoot, 'gateway', 'cli', 'silobridge.ts');

let dataDir: string;
let env: Record<string, string>;
const gateways: ChildProcess[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-db-lock-'));
  env = {
    PATH: process.env.PATH ?? '',
    SILOBRIDGE_DATA_DIR: dataDir,
    // The gateway alone on its database: no demo connectors or identities (so `init` has work to do).
    SILOBRIDGE_SAMPLE_CONNECTORS: 'false',
    PORT: '0',
    LOG_LEVEL: 'info',
  };
});
afterAll(async () => {
  for (const gateway of gateways) await stopChildProcess(gateway);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Starts the gateway from the sources and resolves once it listens (it holds the database then). */
async function startGateway(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', gatewayMain], {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gateways.push(child);
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${output}`)), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"gateway listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening: ${output}`));
    });
  });
  return child;
}

function silobridge(...args: string[]) {
  return runNode(['--import', 'tsx', cliMain, ...args], { cwd: projectRoot, env });
}

const lockFile = () => path.join(dataDir, 'pgdata.lock');

describe('the embedded database, held by a running gateway', () => {
  let gateway: ChildProcess;
  const keyFile = () => path.join(dataDir, 'admin.jwk');

  beforeAll(async () => {
    gateway = await startGateway();
  }, 90_000);

  it('makes every command that opens it refuse with one line naming the gateway and what to do', async () => {
    const runs = [
      { args: ['init', '--key-out', keyFile()], prefix: 'silobridge:', code: 1 },
      { args: ['systems', 'list'], prefix: 'silobridge:', code: 1 },
      { args: ['migrate'], prefix: 'silobridge:', code: 1 },
      { args: ['audit', 'verify'], prefix: 'silobridge audit:', code: 2 },
    ];
    const results = await Promise.all(runs.map((run) => silobridge(...run.args)));
    for (const [index, result] of results.entries()) {
      const run = runs[index];
      const what = `silobridge ${run?.args.join(' ')}`;
      expect(result.code, what).toBe(run?.code);
      expect(result.stdout, what).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toMatch(
        new RegExp(
          `^${run?.prefix} the embedded database .*pgdata is in use by another process: ` +
            `pid ${gateway.pid} on this host \\(the gateway\\), since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\. `,
        ),
      );
      expect(lines[0], what).toContain('stop the gateway');
      expect(lines[0], what).toContain('HTTP API');
      expect(lines[0], what).toContain('PostgreSQL (DATABASE_URL)');
    }
    expect(existsSync(keyFile())).toBe(false);
  }, 90_000);

  it('keeps a second gateway from starting, with the same message in its fatal log line', async () => {
    const second = await runNode(['--import', 'tsx', gatewayMain], { cwd: projectRoot, env });
    expect(second.code).toBe(1);
    const fatal = second.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level: string; msg: string; err?: { message?: string } })
      .find((line) => line.level === 'fatal');
    expect(fatal?.msg).toBe('gateway failed to start');
    expect(fatal?.err?.message).toContain(`in use by another process: pid ${gateway.pid} on this host`);
  }, 90_000);

  it('lets the commands in once the gateway has stopped, and leaves no lock behind', async () => {
    await stopChildProcess(gateway, 15_000);
    expect(gateway.exitCode).toBe(0);
    expect(existsSync(lockFile())).toBe(false);
    const init = await silobridge('init', '--key-out', keyFile());
    expect(init.stdout).toContain('Created admin system data-office/gateway-admin');
    expect(init.code).toBe(0);
    expect(existsSync(lockFile())).toBe(false);
  }, 90_000);
});

describe('a lock left by a gateway that was killed', () => {
  it('is taken over by the next command, which says so on stderr', async () => {
    const gateway = await startGateway();
    const pid = gateway.pid;
    gateway.kill('SIGKILL');
    await exitOf(gateway);
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toMatchObject({ pid, command: 'the gateway' });

    const list = await silobridge('systems', 'list');
    expect(list.stderr).toContain(`silobridge: taking over the stale lock on the embedded database`);
    expect(list.stderr).toContain(`left by pid ${pid} on this host (the gateway)`);
    expect(list.stderr).toContain(`pid ${pid} is no longer running`);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'data-office/gateway-admin' })]),
    );
    expect(existsSync(lockFile())).toBe(false);
  }, 120_000);
});
