// The on-disk token cache: one file per registry and source, reused until shortly before `exp`.
// Only fetched tokens are cached (GitHub, a command): a variable or a file is read each time.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../env.js';
import { isFresh, jwtExpiry } from '../jwt.js';
import type { ResolvedSource } from '../sources/source.js';
import type { RegistryEntry } from './config.js';

interface CacheFile {
  token: string;
  exp: number;
}

export function cacheKey(entry: RegistryEntry, source: ResolvedSource, env: Env): string | undefined {
  const h = createHash('sha256');
  if (source.type === 'github') {
    // Per job: a self-hosted runner's home outlives the job, and another job must never get this token.
    const rt = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN ?? '';
    h.update(
      JSON.stringify([
        'github',
        env.ACTIONS_ID_TOKEN_REQUEST_URL,
        createHash('sha256').update(rt).digest('hex'),
        entry.audience,
      ]),
    );
  } else if (source.type === 'command') {
    h.update(JSON.stringify(['command', source.command, entry.registry, entry.audience]));
  } else {
    return undefined; // a variable or a file: already local, read it every time
  }
  return h.digest('hex').slice(0, 40);
}

export function readCache(dir: string, key: string, refreshBefore: number): string | undefined {
  try {
    const c = JSON.parse(readFileSync(join(dir, `${key}.json`), 'utf8')) as Partial<CacheFile>;
    if (typeof c.token === 'string' && isFresh(c.token, refreshBefore)) return c.token;
  } catch {
    // missing or unreadable: fetch
  }
  return undefined;
}

/** Writes a cache entry atomically, the dir 0700 and the file 0600. Best effort. */
export function writeCache(dir: string, key: string, token: string): void {
  const exp = jwtExpiry(token);
  if (exp === undefined) return;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${key}.${randomBytes(4).toString('hex')}.tmp`);
    writeFileSync(tmp, JSON.stringify({ token, exp } satisfies CacheFile), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, join(dir, `${key}.json`));
  } catch {
    // a cache that cannot be written only costs a fetch
  }
}

export function dropCache(dir: string, key: string): void {
  rmSync(join(dir, `${key}.json`), { force: true });
}
