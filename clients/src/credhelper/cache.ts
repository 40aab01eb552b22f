// The on-disk token cache: one file per registry and source, reused until shortly before `exp`.
// Only fetched tokens are cached (GitHub, a command): a variable or a file is read each time.
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../env.js';
import { isFresh, jwtExpiry, nowSeconds } from '../jwt.js';
import type { ResolvedSource } from '../sources/source.js';
import type { RegistryEntry } from './config.js';

/** Entries kept in one cache dir: keys include the job (GitHub), so a runner's home would grow. */
export const MAX_CACHE_ENTRIES = 100;
/** A cache file holds one JWT: anything larger is not ours and is not read. */
export const MAX_CACHE_FILE_BYTES = 64 * 1024;

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

function readEntry(file: string): Partial<CacheFile> | undefined {
  try {
    if (statSync(file).size > MAX_CACHE_FILE_BYTES) return undefined;
    const c = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof c === 'object' && c !== null ? (c as Partial<CacheFile>) : undefined;
  } catch {
    return undefined; // missing or unreadable
  }
}

export function readCache(dir: string, key: string, refreshBefore: number): string | undefined {
  const c = readEntry(join(dir, `${key}.json`));
  return typeof c?.token === 'string' && isFresh(c.token, refreshBefore) ? c.token : undefined;
}

/** Drops expired entries (and stale temp files), then the least recently written past MAX_CACHE_ENTRIES. */
export function pruneCache(dir: string, now: number = nowSeconds()): void {
  const live: { file: string; mtime: number }[] = [];
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (name.endsWith('.tmp')) {
      // left by a helper killed between write and rename
      if (statSync(file).mtimeMs < Date.now() - 60_000) rmSync(file, { force: true });
      continue;
    }
    if (!name.endsWith('.json')) continue;
    const c = readEntry(file);
    if (typeof c?.exp !== 'number' || c.exp <= now) rmSync(file, { force: true });
    else live.push({ file, mtime: statSync(file).mtimeMs });
  }
  live.sort((a, b) => b.mtime - a.mtime);
  for (const { file } of live.slice(MAX_CACHE_ENTRIES)) rmSync(file, { force: true });
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
    pruneCache(dir);
  } catch {
    // a cache that cannot be written only costs a fetch
  }
}

export function dropCache(dir: string, key: string): void {
  rmSync(join(dir, `${key}.json`), { force: true });
}
