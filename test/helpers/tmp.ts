// Temporary directories under the OS temp dir.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
      return dir;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`could not make a temp dir: ${String(last)}`);
}

export function removeDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // best effort
  }
}
