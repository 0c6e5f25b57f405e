import { chmod, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../gateway/audit/audit-events.js';
import { registerIdentityCommands } from '../../gateway/cli/identity-commands.js';
import { createLogger } from '../../gateway/foundation/logger.js';
import { createAuthenticator } from '../../gateway/identity/authenticator.js';
import { createRegistry } from '../../gateway/registry/registry.js';
import { createPostgresDatabase } from '../../gateway/storage/postgres-database.js';
import { runNode } from '../support/child-process.js';
import { cliEntry } from '../support/connector-process.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

let testDatabase: TestDatabase;
let dir: string;
const audit: AuditEvent[] = [];

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  dir = await mkdtemp(path.join(tmpdir(), 'silobridge-cli-'));
});
afterAll(async () => {
  await testDatabase?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function run(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('silobridge').exitOverride();
  registerIdentityCommands(program, {
    config: () => ({
      databaseUrl: testDatabase.url,
      dataDir: dir,
      audience: 'silobridge',
      maxTokenLifetimeSeconds: 900,
    }),
    auditRecorder: () => ({ record: async (event) => void audit.push(event) }),
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
  });
  process.exitCode = undefined;
  await program.parseAsync(args, { from: 'user' });
  const exitCode = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { out: out.join(''), err: err.join(''), exitCode };
}

/** Verifies a token the way the gateway does, against the registry in the test database. */
async function verify(token: string) {
  const database = createPostgresDatabase({ connectionString: testDatabase.url });
  try {
    const registry = createRegistry({ database, audit: { record: async () => {} }, refreshIntervalMs: 0 });
    const authenticator = createAuthenticator({
      registry,
      audience: 'silobridge',
      audit: { record: async () => {} },
      logger: createLogger('silent'),
    });
    return await authenticator.authenticate(`Bearer ${token}`);
  } finally {
    await database.close();
  }
}

describe('silobridge init', () => {
  it('creates the first admin system and writes its private key (0600), once', async () => {
    const keyFile = path.join(dir, 'admin.jwk');
    const result = await run('init', '--key-out', keyFile);
    expect(result.exitCode).toBe(0);
    expect(result.out).toContain('Created admin system data-office/gateway-admin');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(audit.map((e) => e.kind === 'registry-change' && [e.actor.startsWith('cli:'), e.action])).toEqual([
      [true, 'department.created'],
      [true, 'system.created'],
      [true, 'key.added'],
    ]);

    const token = (await run('token', '--system', 'data-office/gateway-admin', '--key', keyFile)).out.trim();
    expect(jwt.decode(token, { complete: true })?.header).toMatchObject({ alg: 'ES256' });
    await expect(verify(token)).resolves.toMatchObject({
      systemId: 'data-office/gateway-admin',
      roles: ['admin'],
    });

    const again = await run('init', '--key-out', path.join(dir, 'second.jwk'));
    expect(again.exitCode).toBe(1);
    expect(again.err).toContain('already initialised: 1 admin system(s) exist');
  });
});

describe('department teams and operators on the command line', () => {
  it('generates a key pair, registers the system, signs tokens, rotates and retires keys', async () => {
    const privateFile = path.join(dir, 'approval.jwk');
    const publicFile = path.join(dir, 'approval.pub.jwk');
    const generated = await run(
      'keys',
      'generate',
      '--alg',
      'RS256',
      '--out',
      privateFile,
      '--public-out',
      publicFile,
      // Thumbprint kids are base64url and may start with '-': the CLI must take them anyway.
      '--kid',
      '-approval-key-1',
    );
    expect(generated.exitCode, generated.err).toBe(0);
    expect((await stat(privateFile)).mode & 0o777).toBe(0o600);
    const publicJwk = JSON.parse(await readFile(publicFile, 'utf8'));
    expect(publicJwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: '-approval-key-1' });
    expect(publicJwk).not.toHaveProperty('d');
    expect((await run('keys', 'generate', '--out', privateFile)).err).toContain(
      'refusing to overwrite a private key',
    );

    expect(
      (
        await run(
          'departments',
          'add',
          'service-centre',
          '--name-en',
          'Service Centre',
          '--name-zh',
          '政务服务中心',
        )
      ).exitCode,
    ).toBe(0);
    const added = await run(
      'systems',
      'add',
      'service-centre/approval',
      '--name',
      '审批系统',
      '--role',
      'lookup',
      '--key',
      publicFile,
    );
    expect(added.exitCode).toBe(0);
    expect(JSON.parse(added.out)).toMatchObject({
      id: 'service-centre/approval',
      roles: ['lookup'],
      keys: [{ alg: 'RS256' }],
    });

    const token = (
      await run('token', '--system', 'service-centre/approval', '--key', privateFile, '--lifetime', '120')
    ).out.trim();
    const caller = await verify(token);
    expect(caller).toMatchObject({
      systemId: 'service-centre/approval',
      roles: ['lookup'],
      keyId: publicJwk.kid,
    });
    const claims = jwt.decode(token) as { exp: number; iat: number };
    expect(claims.exp - claims.iat).toBe(120);
    expect(
      (await run('token', '--system', 'service-centre/approval', '--key', privateFile, '--lifetime', '3600'))
        .err,
    ).toContain('--lifetime must be a whole number of seconds from 1 to 900');

    // Rotation: add a new key (a private file is fine: only its public half is registered), retire the old one.
    const nextFile = path.join(dir, 'approval-2.jwk');
    await run('keys', 'generate', '--out', nextFile);
    expect((await run('keys', 'add', 'service-centre/approval', nextFile)).exitCode).toBe(0);
    const nextToken = (
      await run('token', '--system', 'service-centre/approval', '--key', nextFile)
    ).out.trim();
    expect((await verify(nextToken)).systemId).toBe('service-centre/approval');
    // --kid, not a positional argument: thumbprints may start with '-'.
    expect((await run('keys', 'retire', 'service-centre/approval', '--kid', publicJwk.kid)).exitCode).toBe(0);
    await expect(verify(token)).rejects.toMatchObject({ problem: 'token-key-retired' });
    const listed = JSON.parse((await run('keys', 'list', 'service-centre/approval')).out) as Array<{
      status: string;
    }>;
    expect(listed.map((key) => key.status)).toEqual(['retired', 'active']);

    const last = await run(
      'keys',
      'retire',
      'service-centre/approval',
      '--kid',
      JSON.parse(await readFile(nextFile, 'utf8')).kid,
    );
    expect(last.exitCode).toBe(1);
    expect(last.err).toContain('(last-active-key)');

    expect((await run('systems', 'set', 'service-centre/approval', '--disable')).exitCode).toBe(0);
    await expect(verify(nextToken)).rejects.toMatchObject({ problem: 'token-system-disabled' });
  });

  it('warns when a private key file is readable by others', async () => {
    const file = path.join(dir, 'loose.jwk');
    await run('keys', 'generate', '--out', file);
    await chmod(file, 0o644);
    const result = await run(
      'token',
      '--system',
      'service-centre/approval',
      '--key',
      file,
      '--audience',
      'silobridge',
    );
    expect(result.err).toContain('is readable by other users; chmod 600 it');
  });
});

describe('silobridge init on PostgreSQL, as its own process', () => {
  it('refuses without the gateway’s audit HMAC key rather than inventing one', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'silobridge-cli-cwd-'));
    try {
      const result = await runNode([cliEntry, 'init'], {
        cwd,
        env: { PATH: process.env.PATH ?? '', DATABASE_URL: testDatabase.url },
      });
      expect(result.stderr).toContain('SILOBRIDGE_AUDIT_HMAC_KEY is not set');
      expect(result.code).toBe(2);
      // Neither a secret nor a key file was left behind.
      expect(await readdir(cwd)).toEqual([]);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
