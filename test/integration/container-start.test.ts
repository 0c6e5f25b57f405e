/**
 * What the image runs, rehearsed without a Docker engine. gateway/Dockerfile's final stage is laid out
 * as the image holds it: its COPY lines into a read-only /app the unprivileged user cannot write,
 * production dependencies only (`npm ci --omit=dev`, as the build stage prunes), and a data directory
 * owned by that user. Then its CMD, its HEALTHCHECK and `silobridge init` run as that user (nobody,
 * when the tests run as root) with only the environment the image and docker-compose.yml give them.
 * The only changes: container paths map to the folders here, the database and broker addresses are
 * the test's, and the server binds 127.0.0.1 on a free port.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { projectRoot } from '../../gateway/foundation/paths.js';
import { runNode } from '../support/child-process.js';
import { environmentOf, filledEnvFile, resolveCompose } from '../support/compose.js';
import { readImageStage } from '../support/dockerfile.js';
import { type GatewayProcess, startGatewayProcess } from '../support/gateway-process.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const image = readImageStage();
const runningAsRoot = process.getuid?.() === 0;
/** Root rehearses as `nobody`; anyone else as themselves, in a tree made read-only. */
const user = runningAsRoot ? { uid: 65534, gid: 65534 } : {};

/** Container paths (/app, the data volume) mapped to folders under `root`. */
function containerFolders(root: string) {
  const dataVolume = image.volumes[0] ?? '';
  const mapping: Array<[string, string]> = [
    ['/app', path.join(root, 'app')],
    [dataVolume, path.join(root, 'data')],
  ];
  const map = (value: string) =>
    mapping.reduce((text, [inside, outside]) => text.split(inside).join(outside), value);
  return { app: path.join(root, 'app'), data: path.join(root, 'data'), map };
}

/** Lays out /app from the COPY lines: the build context is the repository, the build stage `npm run build`. */
async function layOutImage(root: string): Promise<void> {
  const { app, map } = containerFolders(root);
  for (const copy of image.copies) {
    const target = copy.intoFolder
      ? path.join(map(copy.destination), path.basename(copy.source))
      : map(copy.destination);
    await mkdir(path.dirname(target), { recursive: true });
    if (copy.fromStage === undefined) {
      await cp(path.join(projectRoot, copy.source), target, { recursive: true });
    } else if (copy.source === '/app/node_modules') {
      await installProductionDependencies(path.dirname(target));
    } else {
      await cp(path.join(projectRoot, path.relative('/app', copy.source)), target, { recursive: true });
    }
  }
  // The RUN line makes the CLI executable and links it onto PATH; here it is run through node.
  expect(image.runs.join(' ')).toContain(
    'ln -s /app/dist/gateway/cli/silobridge.js /usr/local/bin/silobridge',
  );
  expect(existsSync(path.join(app, 'dist', 'gateway', 'cli', 'silobridge.js'))).toBe(true);
}

async function installProductionDependencies(dir: string): Promise<void> {
  await cp(path.join(projectRoot, 'package-lock.json'), path.join(dir, 'package-lock.json'));
  await promisify(execFile)(
    'npm',
    ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
    { cwd: dir, env: { ...process.env, NODE_ENV: 'production' } },
  );
  await rm(path.join(dir, 'package-lock.json'));
}

/** Ownership as in the image: /app readable but not writable by the user, the data folder theirs alone. */
async function setOwnership(root: string): Promise<void> {
  const { app, data } = containerFolders(root);
  await mkdir(data, { recursive: true });
  await chmod(root, 0o755);
  await chmod(data, 0o700);
  if (runningAsRoot) await chown(data, 65534, 65534);
  else await promisify(execFile)('chmod', ['-R', 'a-w', app]);
}

describe('the container image, rehearsed as an unprivileged user in a read-only tree', () => {
  let root: string;
  let folders: ReturnType<typeof containerFolders>;
  let database: TestDatabase;
  /** The image's environment plus gateway-1's from docker-compose.yml (addresses made local). */
  let composeEnv: Record<string, string>;
  const mapArgs = (args: string[]) => args.slice(1).map((arg) => folders.map(arg));
  const imageEnv = () =>
    Object.fromEntries(Object.entries(image.env).map(([name, value]) => [name, folders.map(value)]));
  const local = { HOST: '127.0.0.1', PORT: '0', PATH: process.env.PATH ?? '' };

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'silobridge-image-'));
    folders = containerFolders(root);
    await layOutImage(root);
    await setOwnership(root);
    database = await createTestDatabase();
    const compose = await resolveCompose(filledEnvFile());
    const gateway = environmentOf(compose.services['gateway-1']);
    composeEnv = {
      ...imageEnv(),
      ...gateway,
      ...local,
      DATABASE_URL: database.url,
      KAFKA_BROKERS: inject('kafkaBrokers'),
      SILOBRIDGE_TOPIC_PREFIX: `image-${randomBytes(4).toString('hex')}`,
    };
  }, 120_000);

  afterAll(async () => {
    if (root && !runningAsRoot) await promisify(execFile)('chmod', ['-R', 'u+w', root]);
    if (root) await rm(root, { recursive: true, force: true });
    await database?.drop();
  });

  it('runs as a user other than root, from a data directory that is its only writable place', async () => {
    expect(image.user).toBe('node');
    expect(image.workdir).toBe(image.volumes[0]);
    expect(image.env.SILOBRIDGE_DATA_DIR).toBe(image.volumes[0]);
    expect(image.cmd[0]).toBe('node');
    const info = await stat(folders.app);
    expect(info.mode & 0o022).toBe(0);
  });

  describe('with docker-compose.yml’s environment (PostgreSQL, Kafka, secrets from .env)', () => {
    let gateway: GatewayProcess;

    beforeAll(async () => {
      gateway = await startGatewayProcess(composeEnv, {
        args: mapArgs(image.cmd),
        cwd: folders.data,
        exactEnv: true,
        timeoutMs: 60_000,
        ...user,
      });
    }, 90_000);
    afterAll(async () => {
      if (gateway) await gateway.stop('SIGKILL');
    });

    it('starts, and its HEALTHCHECK reports healthy once the gateway is ready', async () => {
      const port = new URL(gateway.url).port;
      await vi.waitFor(
        async () => {
          const probe = await runNode(mapArgs(image.healthcheck), {
            ...user,
            cwd: folders.data,
            env: { ...composeEnv, PORT: port },
          });
          expect(probe.code).toBe(0);
        },
        { timeout: 30_000, interval: 500 },
      );
      expect(gateway.logs.find((line) => line.msg === 'database ready')).toMatchObject({
        database: 'postgres',
      });
      expect(gateway.logs.filter((line) => line.level === 'error' || line.level === 'fatal')).toEqual([]);
    });

    it('keeps no secret on disk: both come from the environment compose hands it', async () => {
      expect(await readdir(folders.data)).toEqual([]);
      expect(gateway.logs.filter((line) => String(line.msg).startsWith('gateway secrets come from'))).toEqual(
        [],
      );
    });

    it('lets an operator run `silobridge init` inside it: the admin key lands in the data directory', async () => {
      const cli = mapArgs(['node', '/app/dist/gateway/cli/silobridge.js', 'init']);
      const result = await runNode(cli, { cwd: folders.data, env: composeEnv, ...user });
      expect(result.stdout).toContain('Created admin system data-office/gateway-admin');
      expect(result.code).toBe(0);
      const keyFile = path.join(folders.data, 'data-office.gateway-admin.jwk');
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    });

    it('drains and exits 0 on SIGTERM (docker stop)', async () => {
      expect(await gateway.stop('SIGTERM')).toBe(0);
    });
  });

  describe('alone (docker run silobridge): the embedded demo in the data volume', () => {
    it('starts on PGlite with secrets it makes in the data directory, and stops cleanly', async () => {
      const gateway = await startGatewayProcess(
        { ...imageEnv(), ...local },
        { args: mapArgs(image.cmd), cwd: folders.data, exactEnv: true, timeoutMs: 60_000, ...user },
      );
      try {
        expect(gateway.logs.find((line) => line.msg === 'database ready')).toMatchObject({
          database: 'pglite',
        });
        expect(await readdir(path.join(folders.data, 'secrets'))).toEqual(
          expect.arrayContaining(['audit-hmac.key', 'signing-key.secret']),
        );
      } finally {
        expect(await gateway.stop('SIGTERM')).toBe(0);
      }
    }, 90_000);
  });
});
