// Temporary directories under the OS temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh directory under the OS temp dir. The path is all lowercase, because podman
 * names an image pulled from `oci:PATH` after PATH and refuses uppercase.
 */
export function makeTempDir(prefix = 'purser-e2e-'): string {
  for (let i = 0; i < 100; i++) {
    const dir = mkdtempSync(join(tmpdir(), prefix.toLowerCase()));
    if (dir === dir.toLowerCase()) return dir;
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error('could not make a lowercase temp dir');
}

export function removeDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // best effort
  }
}
