import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';

export const BCRYPT_RE = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** Reads an htpasswd file; only bcrypt entries (`htpasswd -B`) are accepted. */
export function readHtpasswd(file: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(
      file,
      '',
      `cannot read htpasswd file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  return parseHtpasswd(text, file);
}

export function parseHtpasswd(text: string, file: string): Map<string, string> {
  const users = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${i + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ConfigError(file, where, 'expected user:hash');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!BCRYPT_RE.test(hash)) {
      const scheme = hash.startsWith('$apr1$')
        ? 'MD5 (apr1)'
        : hash.startsWith('{SHA}')
          ? 'SHA-1'
          : hash.startsWith('$5$') || hash.startsWith('$6$')
            ? 'SHA-crypt'
            : 'an unsupported scheme';
      throw new ConfigError(
        file,
        where,
        `user ${JSON.stringify(user)} uses ${scheme}; only bcrypt is accepted (htpasswd -B)`,
      );
    }
    if (users.has(user)) throw new ConfigError(file, where, `user ${JSON.stringify(user)} appears twice`);
    users.set(user, hash);
  });
  return users;
}
