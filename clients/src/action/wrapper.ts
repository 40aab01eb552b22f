// The `docker-credential-purser` executable the action puts on PATH for the job: a shell
// wrapper that runs the bundled helper with the runner's node and the job's helper config.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The credHelpers value: docker runs `docker-credential-<value>`. */
export const HELPER_SUFFIX = 'purser';

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function defaultHelperScript(): string {
  const sibling = fileURLToPath(new URL('./credhelper.mjs', import.meta.url));
  if (existsSync(sibling)) return sibling;
  // Running from the compiled sources (dist/clients/src/action/wrapper.js): the package's launcher.
  return fileURLToPath(new URL('../../../../bin/docker-credential-purser.js', import.meta.url));
}

/** Writes `docker-credential-purser` (and a .cmd on Windows) into binDir: runs the helper with its config. */
export function writeWrapper(binDir: string, nodePath: string, script: string, configPath: string): string {
  mkdirSync(binDir, { recursive: true, mode: 0o700 });
  const sh = join(binDir, `docker-credential-${HELPER_SUFFIX}`);
  writeFileSync(
    sh,
    `#!/bin/sh\n# Written by the purser login action for this job; its post step removes it.\nPURSER_CREDHELPER_CONFIG=${shq(configPath)} exec ${shq(nodePath)} ${shq(script)} "$@"\n`,
    { mode: 0o755 },
  );
  chmodSync(sh, 0o755);
  if (process.platform === 'win32') {
    writeFileSync(
      `${sh}.cmd`,
      `@echo off\r\nset "PURSER_CREDHELPER_CONFIG=${configPath}"\r\n"${nodePath}" "${script}" %*\r\n`,
    );
  }
  return sh;
}
