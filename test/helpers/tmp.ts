// Temporary directories under the OS temp dir.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExit } from './cleanup.js';

/** Dirs made here and not yet removed: removed on exit or interruption as a last resort. */
const made = new Set<string>();
onExit(() => {
  for (const d of made) removeDir(d);
});

/**
 * A fresh directory under the OS temp dir. The path is all lowercase, because podman
 * names an image pulled from `oci:PATH` after PATH and refuses uppercase.
 */
export function makeTempDir(prefix = 'purser-e2e-'): string {
  // Like mkdtemp, but with a lowercase hex suffix (mkdtemp's may contain uppercase letters).
  const base = tmpdir() === tmpdir().toLowerCase() ? tmpdir() : '/tmp';
  let last: unknown;
  for (let i = 0; i < 10; i++) {
    const dir = join(base, `${prefix.toLowerCase()}${randomBytes(6).toString('hex')}`);
    try {
      mkdirSync(dir, { mode: 0o700 }); // fails if it exists
      made.add(dir);
      return dir;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`could not make a temp dir: ${String(last)}`);
}

/** Mount points at or under dir (from /proc/self/mountinfo; empty where that is unavailable). */
function mountsAt(dir: string): string[] {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const decode = (p: string): string =>
    p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  return info
    .split('\n')
    .map((l) => decode(l.split(' ')[4] ?? ''))
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/**
 * Removes dir recursively, best effort. A dir with something still mounted under it (a
 * daemon that was killed before it could unmount) is left alone rather than deleting
 * through the mount.
 */
export function removeDir(dir: string): void {
  made.delete(dir);
  if (mountsAt(dir).length > 0) return;
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // best effort
  }
}
