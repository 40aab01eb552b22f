#!/usr/bin/env node
// Builds dist/purser-credential-provider, the kubelet credential provider as one executable
// that runs on a node without Node.js: Node's single executable applications (SEA) with the
// esbuild bundle of clients/src/kubelet/cli.ts (CommonJS: Node 20's SEA main must be) injected
// into a copy of the running node binary by postject (npm, devDependency).
// Cached: when the bundle and the node binary are those of the last build, nothing is redone
// (a stamp next to the executable), so the test suite builds it once.
//   node scripts/build-credential-provider.js      (npm run build:credential-provider)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
export const EXECUTABLE = join(root, 'dist', 'purser-credential-provider');
const WORK = join(root, 'dist', 'sea');
// Node's documented fuse for SEA blobs (nodejs.org/api/single-executable-applications.html).
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

async function bundleText() {
  const r = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['clients/src/kubelet/cli.ts'],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    write: false,
    metafile: true,
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  });
  for (const input of Object.keys(r.metafile.inputs)) {
    if (!input.startsWith('clients/src/')) throw new Error(`the provider bundles ${input}: clients/src only`);
  }
  return r.outputFiles[0].text;
}

function read(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Builds the executable unless the cached one is current; returns its path. */
export async function buildCredentialProvider({ log = () => {} } = {}) {
  const text = await bundleText();
  const node = statSync(process.execPath);
  const stamp = createHash('sha256')
    .update(text)
    .update(`\0${process.execPath}\0${process.version}\0${node.size}\0${node.mtimeMs}`)
    .digest('hex');
  const stampFile = `${EXECUTABLE}.stamp`;
  if (read(stampFile) === stamp && statSync(EXECUTABLE, { throwIfNoEntry: false })?.isFile()) {
    log(`${relative(process.cwd(), EXECUTABLE)} is up to date`);
    return EXECUTABLE;
  }
  // Per process: two test files may build at the same time (the rename below is atomic).
  const work = join(WORK, String(process.pid));
  mkdirSync(work, { recursive: true });
  const main = join(work, 'provider.cjs');
  const blob = join(work, 'provider.blob');
  const config = join(work, 'sea-config.json');
  writeFileSync(main, text);
  writeFileSync(config, JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true }));
  execFileSync(process.execPath, ['--experimental-sea-config', config], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // Built beside the target and renamed, so a reader never sees a half-written executable.
  const tmp = `${EXECUTABLE}.tmp-${process.pid}`;
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  try {
    const { inject } = (await import('postject')).default;
    await inject(tmp, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: FUSE });
    renameSync(tmp, EXECUTABLE);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  writeFileSync(stampFile, stamp);
  log(`wrote ${relative(process.cwd(), EXECUTABLE)}`);
  return EXECUTABLE;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildCredentialProvider({ log: (m) => process.stdout.write(`${m}\n`) }).catch((err) => {
    process.stderr.write(`build-credential-provider: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
