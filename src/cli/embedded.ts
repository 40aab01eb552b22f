import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bcryptHash } from '../authn/bcrypt.js';
import { buildConfig, type Config } from '../config/load.js';
import type { ConfigInput } from '../config/schema.js';
import { writeKeyPair } from './keys.js';

export const DEV_USER = 'dev';

/**
 * The embedded development default: a key pair and a development user's password kept
 * under ./.purser/ (created on first start), the user allowed everything, anonymous pull.
 */
export async function embeddedDefault(
  dir = '.purser',
): Promise<{ config: Readonly<Config>; password: string; created: boolean }> {
  const base = resolve(dir);
  mkdirSync(base, { recursive: true, mode: 0o700 });
  let created = false;
  if (!existsSync(join(base, 'token.key'))) {
    await writeKeyPair(base, 'ES256', { cn: 'purser development signer' });
    created = true;
  }
  const pwFile = join(base, 'dev-password');
  if (!existsSync(pwFile))
    writeFileSync(pwFile, `${randomBytes(12).toString('base64url')}\n`, { mode: 0o600 });
  const password = readFileSync(pwFile, 'utf8').trim();
  const input: ConfigInput = {
    listen: process.env.PURSER_LISTEN ?? '127.0.0.1:5001',
    token: {
      issuer: 'purser',
      service: 'registry.local',
      key: 'token.key',
      certificate: 'token.crt',
      keyId: 'libtrust',
    },
    users: { [DEV_USER]: await bcryptHash(password, 10) },
    acl: [
      { match: { account: DEV_USER }, actions: ['*'], comment: 'the development user may do everything' },
      { match: { account: '' }, actions: ['pull'], comment: 'anonymous pull' },
    ],
    log: { format: 'text' },
  };
  return { config: buildConfig(input, undefined, base), password, created };
}
