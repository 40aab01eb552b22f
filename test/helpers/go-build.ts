// Go test clients built with Debian's Go in GOPATH mode against Debian's golang-*-dev sources
// (no module proxy is reachable here), once per source/toolchain/library version into a cache
// dir under the OS temp dir. Debian bookworm has no go-containerregistry (crane) package, so
// the Go client is distribution's own registry/client (test/go/distclient).
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { describeRun, run } from './proc.js';
import { makeTempDir, removeDir } from './tmp.js';

const GOCODE = '/usr/share/gocode';
const CACHE = join(tmpdir(), 'purser-test-cache');

interface GoProgram {
  /** Directory under test/go holding main.go. */
  dir: string;
  /** Debian packages whose sources it builds against (their versions key the cache). */
  debs: string[];
}

const PROGRAMS = {
  distclient: { dir: 'distclient', debs: ['golang-github-docker-distribution-dev'] },
} as const satisfies Record<string, GoProgram>;

export type GoProgramName = keyof typeof PROGRAMS;

const pending = new Map<GoProgramName, Promise<string | { skip: string }>>();

/** The built binary, or why it cannot be built here (only: no Go toolchain). */
export function goBinary(name: GoProgramName): Promise<string | { skip: string }> {
  let p = pending.get(name);
  if (!p) {
    p = build(name, PROGRAMS[name]);
    pending.set(name, p);
  }
  return p;
}

async function build(name: string, prog: GoProgram): Promise<string | { skip: string }> {
  const goVersion = await run('go', ['version'], { timeout: 30_000 });
  if (goVersion.code !== 0)
    return { skip: `no Go toolchain (apt-get install golang-go):\n${describeRun(goVersion)}` };
  const debVersions = await run('dpkg-query', ['-W', '-f=${Package}=${Version}\\n', ...prog.debs], {
    timeout: 30_000,
  });
  if (debVersions.code !== 0)
    throw new Error(`${prog.debs.join(' ')} not installed (see .ci/run):\n${describeRun(debVersions)}`);
  const source = join(repoRoot, 'test', 'go', prog.dir, 'main.go');
  const key = createHash('sha256')
    .update(readFileSync(source))
    .update(goVersion.stdout)
    .update(debVersions.stdout)
    .digest('hex')
    .slice(0, 16);
  const outDir = join(CACHE, `go-${name}-${key}`);
  const bin = join(outDir, name);
  if (existsSync(bin)) return bin;
  mkdirSync(CACHE, { recursive: true });
  const work = makeTempDir(`purser-go-${name}-`);
  try {
    const pkg = join(work, 'gopath', 'src', 'purser.test', name);
    mkdirSync(pkg, { recursive: true });
    copyFileSync(source, join(pkg, 'main.go'));
    const staged = join(work, 'out');
    mkdirSync(staged);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: work,
      GO111MODULE: 'off',
      GOPATH: `${join(work, 'gopath')}:${GOCODE}`,
      GOCACHE: join(CACHE, 'gocache'),
      GOFLAGS: '',
      GOPROXY: 'off',
    };
    const r = await run('go', ['build', '-o', join(staged, name), `purser.test/${name}`], {
      env,
      cwd: work,
      timeout: 300_000,
    });
    if (r.code !== 0) throw new Error(`go build ${name} failed:\n${describeRun(r)}`);
    // Another test file may have built it meanwhile; renaming a whole dir is atomic.
    try {
      renameSync(staged, outDir);
    } catch (e) {
      if (!existsSync(bin)) throw e;
    }
    return bin;
  } finally {
    removeDir(work);
  }
}
