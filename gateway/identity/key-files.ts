/**
 * Private key files: JSON JWKs readable only by their owner (0600, in a 0700 folder when we create
 * it). Written to a temporary name and renamed, so a crash never leaves half a key; never overwritten
 * unless asked, so a key in use is not lost by a repeated command.
 */
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function writePrivateKeyFile(
  file: string,
  jwk: Record<string, unknown>,
  options: { overwrite?: boolean } = {},
): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!options.overwrite && (await exists(file))) {
    throw new Error(`${file} already exists; refusing to overwrite a private key.`);
  }
  const temporary = path.join(dir, `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    // The process umask cannot widen 0600, but an inherited ACL-less file system could; be explicit.
    await chmod(temporary, 0o600);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export async function readKeyFile(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${file} is not a JSON JWK.`);
  }
}

/** Whether others than the owner can read the file (a private key should never be). */
export async function readableByOthers(file: string): Promise<boolean> {
  return ((await stat(file)).mode & 0o077) !== 0;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
