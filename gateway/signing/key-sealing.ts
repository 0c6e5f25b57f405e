/**
 * Seals the gateway's private signing keys for storage in the database: AES-256-GCM under a key
 * derived (HKDF-SHA256) from the configured secret, with the key id as associated data so a sealed key
 * cannot be passed off as another. Format: `v1.<iv>.<tag>.<ciphertext>`, base64url parts.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';

function sealingKey(secret: string | Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'silobridge-signing-keys', 'aes-256-gcm v1', 32));
}

export function seal(secret: string | Buffer, kid: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(secret), iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

export class UnsealError extends Error {}

export function unseal(secret: string | Buffer, kid: string, sealed: string): string {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || ciphertext === undefined) {
    throw new UnsealError(`signing key ${kid} is not sealed in a format this gateway reads`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(secret), Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new UnsealError(
      `signing key ${kid} cannot be opened with SILOBRIDGE_SIGNING_KEY_SECRET: the secret differs from the one it was sealed with`,
    );
  }
}
