/**
 * The gateway's two secrets: the audit log's subject-identifier HMAC key and the secret that seals
 * the response signing keys. They come from the configuration; the embedded (single-instance)
 * gateway makes its own on first start, so `npm start` needs no setup: 32 random bytes, base64, in a
 * file only the owner can read (0600, folder 0700). Instances that share a PostgreSQL database must
 * all be given the same ones through the environment instead.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GatewayConfig } from './config.js';

export async function loadOrCreateSecret(file: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    // 'wx' fails if the file exists, so two processes starting together keep the first one's secret.
    await writeFile(file, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  await chmod(file, 0o600);
  const secret = (await readFile(file, 'utf8')).trim();
  if (secret.length < 32)
    throw new Error(`${file} holds a secret shorter than 32 characters; delete it or fix it.`);
  return secret;
}

/** The secret in `file`, or undefined if there is none (tools that must not make one, e.g. the CLI). */
export async function readSecretIfPresent(file: string): Promise<string | undefined> {
  try {
    const secret = (await readFile(file, 'utf8')).trim();
    return secret === '' ? undefined : secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export interface GatewaySecrets {
  /** SILOBRIDGE_AUDIT_HMAC_KEY: unset = `<dataDir>/secrets/audit-hmac.key`. */
  hmacKey: string;
  /** SILOBRIDGE_SIGNING_KEY_SECRET: unset = `<dataDir>/secrets/signing-key.secret`. */
  signingKeySecret: string;
}

export type SecretsConfig = Pick<GatewayConfig, 'dataDir'> &
  Partial<Pick<GatewayConfig, 'auditHmacKey' | 'signingKeySecret'>>;

export const secretFiles = (dataDir: string): Record<keyof GatewaySecrets, string> => ({
  hmacKey: path.join(dataDir, 'secrets', 'audit-hmac.key'),
  signingKeySecret: path.join(dataDir, 'secrets', 'signing-key.secret'),
});

/** The configured secrets, or the data folder's (made on first start). */
export async function resolveGatewaySecrets(config: SecretsConfig): Promise<GatewaySecrets> {
  const files = secretFiles(config.dataDir);
  return {
    hmacKey: config.auditHmacKey ?? (await loadOrCreateSecret(files.hmacKey)),
    signingKeySecret: config.signingKeySecret ?? (await loadOrCreateSecret(files.signingKeySecret)),
  };
}

/**
 * The secret a gateway on this configuration uses, for commands run beside it (the CLI): from the
 * environment or the gateway's secret file, never a new one. Undefined if there is none yet.
 */
export async function existingGatewaySecret(
  config: SecretsConfig,
  name: keyof GatewaySecrets,
): Promise<string | undefined> {
  const given = name === 'hmacKey' ? config.auditHmacKey : config.signingKeySecret;
  return given ?? (await readSecretIfPresent(secretFiles(config.dataDir)[name]));
}
