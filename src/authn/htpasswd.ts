import { ConfigError } from '../core/errors.js';
import { colonLines, readListFile } from './colon-file.js';

export const BCRYPT_RE = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** Reads an htpasswd file; only bcrypt entries (`htpasswd -B`) are accepted. */
export function readHtpasswd(file: string): Map<string, string> {
  return parseHtpasswd(readListFile(file, 'htpasswd file'), file);
}

export function parseHtpasswd(text: string, file: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const { name: user, rest: hash, where } of colonLines(text, file, 'expected user:hash')) {
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
  }
  return users;
}
