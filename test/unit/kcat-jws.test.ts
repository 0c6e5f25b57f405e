/**
 * The shell connector's signing (connectors/examples/kcat-connector.sh, quoted in docs/protocol.md):
 * `der_to_raw` turns openssl's DER signature into the 64-byte r || s of JWS. DER writes each integer in
 * as few bytes as it can (about one signature in 128 has an r or s of 31 bytes or fewer) and puts a
 * 00 before one whose high bit is set (33 bytes); a conversion that mishandles either makes a signature
 * that fails now and then (a CI run caught one). Here every shape is handed over on purpose, from
 * signatures Node.js made, and `jws()` itself signs a few that must verify.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../gateway/foundation/paths.js';

const run = promisify(execFile);
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let dir: string;
let setUp: string;
let keyFile: string;

/** Runs `body` after the script's own set-up (its first line to the end of jws()); stdout lines. */
async function inScript(body: string): Promise<string[]> {
  const script = path.join(dir, `run-${Math.random().toString(36).slice(2)}.sh`);
  await writeFile(script, `${setUp}\n${body}\n`);
  const { stdout } = await run('bash', [script], {
    env: { ...process.env, SIGNING_KEY_FILE: keyFile },
    timeout: 60_000,
  });
  return stdout.trim().split('\n');
}

/** Lengths of r and s in a DER ECDSA signature (SEQUENCE of two INTEGERs, short form lengths). */
function integerLengths(der: Buffer): [number, number] {
  const r = der[3] as number;
  return [r, der[5 + r] as number];
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kcat-jws-'));
  keyFile = path.join(dir, 'key.jwk');
  await writeFile(keyFile, JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid: 'k1' }), {
    mode: 0o600,
  });
  const lines = (
    await readFile(path.join(projectRoot, 'connectors/examples/kcat-connector.sh'), 'utf8')
  ).split('\n');
  const start = lines.findIndex((line) => line.startsWith('jws() {'));
  const end = lines.findIndex((line, index) => index > start && line === '}');
  setUp = lines.slice(0, end + 1).join('\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the shell connector’s ES256 signatures', () => {
  it('converts every DER shape to a 64-byte r || s that verifies: short, full and 00-prefixed integers', async () => {
    const wanted = new Map<string, { message: Buffer; der: Buffer }>();
    const shape = ([r, s]: [number, number]) =>
      `r ${r < 32 ? 'short' : r === 32 ? 'full' : '00-prefixed'}, s ${s < 32 ? 'short' : s === 32 ? 'full' : '00-prefixed'}`;
    // Both short at once is rare (1 in 65,536): the eight other shapes are enough, and found fast.
    const others = () => [...wanted.keys()].filter((name) => name !== 'r short, s short').length;
    for (let i = 0; others() < 8 && i < 100_000; i++) {
      const message = Buffer.from(`message ${i}`);
      const der = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
      const name = shape(integerLengths(der));
      if (!wanted.has(name)) wanted.set(name, { message, der });
    }
    expect(others()).toBe(8);
    const cases = [...wanted.entries()];
    const raw = await inScript(
      cases.map(([, { der }]) => `der_to_raw ${der.toString('hex')}; echo`).join('\n'),
    );
    const failing = cases.filter(([, { message }], index) => {
      const signature = Buffer.from(raw[index] ?? '', 'hex');
      return (
        signature.length !== 64 ||
        !verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
      );
    });
    expect(failing.map(([name]) => name)).toEqual([]);
  });

  it('signs with jws() what verifies with the public key', async () => {
    const tokens = await inScript('for i in 1 2 3 4 5; do jws "{\\"n\\":$i}" test+jws; echo; done');
    expect(tokens).toHaveLength(5);
    for (const token of tokens) {
      const [header, payload, signature] = token.split('.') as [string, string, string];
      expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({
        alg: 'ES256',
        kid: 'civil-affairs/connector#k1',
        typ: 'test+jws',
      });
      expect(
        verify(
          'sha256',
          Buffer.from(`${header}.${payload}`),
          { key: publicKey, dsaEncoding: 'ieee-p1363' },
          Buffer.from(signature, 'base64url'),
        ),
      ).toBe(true);
    }
  });
});
