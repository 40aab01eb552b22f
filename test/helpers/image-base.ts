// A Node base image made here, since no image can be pulled: Debian minbase from Debian's
// archive (mmdebstrap) with npm's plain Node 24 binary (node-linux-<arch>) and npm itself (the
// npm package) copied in, laid out as the official node images are (/usr/local/bin/node, npm).
// The tarball is cached under ~/.cache/purser keyed on every input, so only the first run
// anywhere pays for it (about a minute); later runs only `podman import` it, or find it there.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Podman } from './podman.js';
import { describeRun, run } from './proc.js';
import { makeTempDir, removeDir } from './tmp.js';

const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
const INCLUDE = ['ca-certificates'];
const NPM_VERSION = '11.6.2';
/** Bump when the recipe below changes: it is part of the cache key. */
const RECIPE = 2;

export const CACHE_ROOT = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'purser');

const nodeArch = (): string | undefined =>
  ({ x64: 'x64', arm64: 'arm64' })[process.arch as 'x64' | 'arm64'] as string | undefined;

async function nodeVersion(bin: string): Promise<string | undefined> {
  const r = await run(bin, ['--version'], { timeout: 20_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** A Node 24 binary: CI's (PURSER_TEST_NODE24, .ci/run's cache), else installed there by npm. */
async function node24(): Promise<string> {
  const arch = nodeArch();
  if (!arch) throw new Error(`no node-linux package for ${process.arch}`);
  const dir = process.env.PURSER_NODE24_DIR ?? join(CACHE_ROOT, 'node24');
  const cached = join(dir, 'node_modules', `node-linux-${arch}`, 'bin', 'node');
  // Only npm's plain binary: a distribution's node links shared libraries the base lacks.
  for (const c of [process.env.PURSER_TEST_NODE24, cached]) {
    if (c && existsSync(c) && (await nodeVersion(c))?.startsWith('v24.')) return c;
  }
  const r = await run(
    'npm',
    ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save', `node-linux-${arch}@24`],
    { timeout: 300_000 },
  );
  if (r.code !== 0 || !(await nodeVersion(cached))?.startsWith('v24.'))
    throw new Error(`installing node-linux-${arch}@24 failed:\n${describeRun(r)}`);
  return cached;
}

export interface BaseImage {
  /** localhost/purser-test-base:KEY */
  ref: string;
  /** The cached tarball. */
  tar: string;
  /** Whether this call made the tarball (a cold run). */
  built: boolean;
}

/**
 * The tarball of the base (made when missing). `podman import` it; its name carries the key.
 */
export async function baseImageTar(): Promise<BaseImage> {
  const node = await node24();
  const version = (await nodeVersion(node)) ?? '';
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        RECIPE,
        SUITE,
        MIRROR,
        INCLUDE,
        NPM_VERSION,
        arch: process.arch,
        node: version,
        size: statSync(node).size,
      }),
    )
    .digest('hex')
    .slice(0, 16);
  const dir = join(CACHE_ROOT, 'image-base');
  const tar = join(dir, `${key}.tar`);
  const ref = `localhost/purser-test-base:${key}`;
  if (existsSync(tar)) return { ref, tar, built: false };
  mkdirSync(dir, { recursive: true });
  const work = makeTempDir('purser-image-base-');
  try {
    const pack = await run('npm', ['pack', `npm@${NPM_VERSION}`, '--silent', '--pack-destination', work], {
      timeout: 180_000,
    });
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (pack.code !== 0 || !tgz) throw new Error(`npm pack npm@${NPM_VERSION} failed:\n${describeRun(pack)}`);
    const untar = await run('tar', ['-xzf', join(work, tgz), '-C', work], { timeout: 60_000 });
    if (untar.code !== 0) throw new Error(`extracting npm failed:\n${describeRun(untar)}`);
    // Written next to the cache entry, then renamed: a reader never sees half a tarball.
    const out = `${tar}.${process.pid}.part`;
    const hooks = [
      'mkdir -p "$1/usr/local/bin" "$1/usr/local/lib/node_modules"',
      `cp ${JSON.stringify(node)} "$1/usr/local/bin/node"`,
      `cp -a ${JSON.stringify(join(work, 'package'))} "$1/usr/local/lib/node_modules/npm"`,
      'ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"',
      'ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"',
      'chroot "$1" /usr/local/bin/node --version',
    ];
    const r = await run(
      'mmdebstrap',
      [
        '--variant=minbase',
        `--include=${INCLUDE.join(',')}`,
        '--mode=root',
        '--format=tar',
        // Snapshot mirrors serve Release files past their Valid-Until; apt on these machines allows it too.
        '--aptopt=Acquire::Check-Valid-Until "false"',
        '--dpkgopt=path-exclude=/usr/share/doc/*',
        '--dpkgopt=path-exclude=/usr/share/man/*',
        '--dpkgopt=path-exclude=/usr/share/locale/*',
        ...hooks.map((h) => `--customize-hook=${h}`),
        SUITE,
        out,
        MIRROR,
      ],
      { timeout: 600_000 },
    );
    if (r.code !== 0) {
      rmSync(out, { force: true });
      throw new Error(`mmdebstrap failed:\n${describeRun(r)}`);
    }
    renameSync(out, tar);
    return { ref, tar, built: true };
  } finally {
    removeDir(work);
  }
}

/**
 * The base in `pm`'s storage (imported from the cached tarball when missing), plus, where this
 * machine's Node trusts extra CAs (NODE_EXTRA_CA_CERTS, e.g. a TLS-inspecting egress proxy in
 * front of the npm registry), a layer with that bundle: a locally made base carries the local
 * trust, as a company's base image would. Returns the image to pass as BASE.
 */
export async function ensureBaseImage(pm: Podman): Promise<BaseImage> {
  const base = await baseImageTar();
  if ((await pm.raw(['image', 'exists', base.ref])).code !== 0) {
    const r = await pm.raw(['import', base.tar, base.ref], { timeout: 300_000 });
    if (r.code !== 0) throw new Error(`podman import failed:\n${describeRun(r)}`);
  }
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (!extra || !existsSync(extra)) return base;
  const pem = readFileSync(extra);
  const ref = `${base.ref}-ca${createHash('sha256').update(pem).digest('hex').slice(0, 12)}`;
  if ((await pm.raw(['image', 'exists', ref])).code === 0) return { ...base, ref };
  const ctx = makeTempDir('purser-image-ca-');
  try {
    writeFileSync(join(ctx, 'extra-ca.crt'), pem);
    writeFileSync(
      join(ctx, 'Containerfile'),
      `FROM ${base.ref}\nCOPY extra-ca.crt /usr/local/share/purser-test/extra-ca.crt\nENV NODE_EXTRA_CA_CERTS=/usr/local/share/purser-test/extra-ca.crt\n`,
    );
    const r = await pm.raw(
      ['build', '--format', 'docker', '-t', ref, '-f', join(ctx, 'Containerfile'), ctx],
      {
        timeout: 300_000,
      },
    );
    if (r.code !== 0) throw new Error(`building the CA layer failed:\n${describeRun(r)}`);
    return { ...base, ref };
  } finally {
    removeDir(ctx);
  }
}
