// The container image: the repository's Dockerfile built with podman from a base made here
// (Debian minbase + npm's Node 24, test/helpers/image-base.ts), run as a numeric non-root user
// on a read-only root with a tmpfs /tmp and the config mounted, serving tokens that the real
// registry accepts (skopeo push and pull through it). The podman storage is kept under
// ~/.cache/purser so a second run reuses the base and the dependency layers.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { assertFails, assertOk, NO_ACCESS } from '../helpers/assert.js';
import { CACHE_ROOT, ensureBaseImage } from '../helpers/image-base.js';
import { type LogSource, withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage, readLayoutDigest } from '../helpers/oci.js';
import { repoRoot } from '../helpers/paths.js';
import { createPodman, PODMAN_BIN, type Podman } from '../helpers/podman.js';
import { getFreePort } from '../helpers/ports.js';
import { describeRun, run } from '../helpers/proc.js';
import { generateKeys } from '../helpers/purser.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { ALICE, BOB, ISSUER, SERVICE, STANDARD_ACL, standardUsers } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const TIMEOUT = 20 * 60_000;
const USER = '65532:65532';
const PODMAN_MANAGED = new Set([
  '/etc',
  '/etc/hosts',
  '/etc/hostname',
  '/etc/resolv.conf',
  '/etc/passwd',
  '/etc/group',
]);
const IMAGE = 'localhost/purser-test:image';
const PROVIDER_IMAGE = 'localhost/purser-test:credential-provider';

const hasPodman = (await run(PODMAN_BIN, ['--version'], { timeout: 20_000 })).code === 0;
const hasRunc = (await run('runc', ['--version'], { timeout: 20_000 })).code === 0;
const skip = hasPodman ? false : `${PODMAN_BIN} is not installed`;

describe('container image (Dockerfile) built with podman and run read-only', {
  timeout: TIMEOUT,
  skip,
}, () => {
  let pm: Podman | undefined;
  let sk: Skopeo | undefined;
  let registry: Registry | undefined;
  let img: OciImage | undefined;
  let dir = '';
  let port = 0;
  const container = `purser-image-test-${process.pid}`;
  const logs = (): LogSource[] => [
    { name: 'registry', logs: () => registry?.logs() ?? '' },
    { name: 'container', logs: () => containerLogs },
  ];
  let containerLogs = '';
  const timings: string[] = [];
  const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      timings.push(`${what} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  };

  before(async () => {
    pm = createPodman([], {
      storage: { dir: join(CACHE_ROOT, 'image-podman'), driver: 'overlay' },
      // crun refuses this machine's hybrid cgroup layout; runc (docker.io's and containerd's) runs.
      ...(hasRunc ? { runtime: 'runc' } : {}),
      ulimits: ['nofile=4096:4096', 'nproc=4096:4096'],
    });
    const base = await timed('base', () => ensureBaseImage(pm!));
    timings.push(base.built ? '(base tarball made)' : '(base tarball cached)');
    const build = (extra: string[], tag: string) =>
      pm!.raw(
        [
          'build',
          '--format',
          'docker', // keeps HEALTHCHECK (the OCI image format has no such field)
          '--layers',
          '--network',
          'host', // RUN npm ci reaches the npm registry
          '--build-arg',
          `BASE=${base.ref}`,
          ...extra,
          '-t',
          tag,
          '-f',
          join(repoRoot, 'Dockerfile'),
          repoRoot,
        ],
        { timeout: 900_000 },
      );
    assertOk(await timed('build', () => build([], IMAGE)), 'podman build');
    assertOk(
      await timed('build provider', () => build(['--target', 'credential-provider'], PROVIDER_IMAGE)),
      'podman build --target credential-provider',
    );
    // Dangling images of earlier builds would fill the kept storage; today's include the build
    // stages' layers, the cache of the next run (CI runs the suite twice in a row).
    await pm.raw(['image', 'prune', '--force', '--filter', 'until=24h'], { timeout: 120_000 });

    dir = makeTempDir('purser-image-config-');
    const keys = await generateKeys(join(dir, 'keys'), 'ES256');
    port = await getFreePort();
    writeFileSync(
      join(dir, 'purser.yml'),
      stringify({
        listen: `127.0.0.1:${port}`,
        token: {
          issuer: ISSUER,
          service: SERVICE,
          key: 'keys/token.key',
          certificate: 'keys/token.crt',
          expiresIn: 300,
        },
        users: await standardUsers(),
        acl: STANDARD_ACL,
      }),
    );
    // The container's user reads the mounted files as the image's user would in a cluster.
    for (const f of [
      dir,
      join(dir, 'keys'),
      ...['purser.yml', 'keys/token.key', 'keys/token.crt'].map((p) => join(dir, p)),
    ]) {
      if (process.getuid?.() === 0) chownSync(f, 65532, 65532);
      else chmodSync(f, f === dir || f.endsWith('keys') ? 0o755 : 0o644);
    }
    await pm.raw(['rm', '--force', container]);
    const started = await pm.raw([
      'run',
      '--detach',
      '--name',
      container,
      '--network',
      'host', // the server listens on the host's 127.0.0.1 only
      '--read-only',
      '--read-only-tmpfs=false',
      '--tmpfs',
      '/tmp:rw,size=64m,mode=1777',
      '--user',
      USER,
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '--env',
      `PURSER_HEALTHCHECK_URL=http://127.0.0.1:${port}/healthz`,
      '--volume',
      `${dir}:/etc/purser:ro`,
      IMAGE,
    ]);
    assertOk(started, 'podman run');
    await timed('server ready', () => waitHealthy(`http://127.0.0.1:${port}/healthz`));
    registry = await startRegistry({
      auth: {
        mode: 'token',
        realm: `http://127.0.0.1:${port}/token`,
        service: SERVICE,
        issuer: ISSUER,
        rootcertbundle: keys.crt,
      },
    });
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
  });

  after(async () => {
    console.log(`# image test timings: ${timings.join(', ')}`);
    if (pm) {
      await pm.raw(['rm', '--force', '--time', '2', container], { timeout: 60_000 });
      await pm.cleanup();
    }
    await registry?.stop();
    sk?.cleanup();
    if (img) removeDir(img.dir);
    if (dir) removeDir(dir);
  });

  async function waitHealthy(url: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.ok) return;
        last = `status ${res.status}`;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      const state = await pm!.raw(['inspect', '--format', '{{.State.Status}}', container]);
      if (state.stdout.trim() !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    containerLogs = (await pm!.raw(['logs', container])).stderr;
    throw new Error(`the container did not serve ${url} (${last}):\n${containerLogs}`);
  }

  const inspect = async (image: string, format: string): Promise<string> => {
    const r = await pm!.inspect(image, format);
    assertOk(r, `inspect ${format}`);
    return r.stdout.trim();
  };

  test('the image runs purser as a numeric non-root user, with a healthcheck and no dev dependencies', async () => {
    assert.equal(await inspect(IMAGE, '{{.Config.User}}'), USER);
    assert.equal(await inspect(IMAGE, '{{json .Config.Entrypoint}}'), '["purser"]');
    assert.equal(
      await inspect(IMAGE, '{{json .Config.Cmd}}'),
      '["serve","--config","/etc/purser/purser.yml"]',
    );
    assert.match(await inspect(IMAGE, '{{json .Config.Healthcheck}}'), /PURSER_HEALTHCHECK_URL/);
    assert.match(
      await inspect(IMAGE, '{{json .Config.Env}}'),
      /PURSER_HEALTHCHECK_URL=http:\/\/127\.0\.0\.1:5001\/healthz/,
    );
    const version = await pm!.raw(['run', '--rm', '--read-only', '--user', USER, IMAGE, '--version']);
    assertOk(version, 'purser --version');
    assert.match(version.stdout, /^purser \d+\.\d+\.\d+/);
    // Production dependencies only: none of the devDependencies is in the image.
    const ls = await pm!.raw(['run', '--rm', '--entrypoint', 'ls', IMAGE, '/app/node_modules']);
    assertOk(ls, 'ls node_modules');
    const present = new Set(ls.stdout.split('\n'));
    for (const dev of ['typescript', 'esbuild', '@biomejs', 'fastify', 'kubernetes-models', 'postject'])
      assert.ok(!present.has(dev), `${dev} is a devDependency but is in the image`);
    assert.ok(present.has('jose') && present.has('zod'), ls.stdout);
  });

  test('the healthcheck passes against the running container', async () => {
    const r = await pm!.raw(['healthcheck', 'run', container]);
    assertOk(r, 'podman healthcheck run');
  });

  test(
    'the registry accepts the tokens the container issues: alice pushes and pulls, bob may not push',
    withLogs(logs, async () => {
      const s = sk!;
      const ref = (repo: string) => `docker://${registry!.host}/${repo}`;
      assertOk(await s.copy(img!.ref, ref('team/app:v1'), { dest: ALICE }), 'alice pushes');
      const out = makeTempDir('purser-image-pull-');
      try {
        assertOk(await s.copy(ref('team/app:v1'), `oci:${out}:v1`, { src: BOB }), 'bob pulls');
        assert.equal(readLayoutDigest(out, 'v1'), img!.manifestDigest);
      } finally {
        removeDir(out);
      }
      assertFails(await s.copy(img!.ref, ref('team/app:v2'), { dest: BOB }), NO_ACCESS, 'bob pushes');
      // The root file system stayed read-only: the server ran and wrote nowhere else (podman
      // itself bind-mounts /etc/hosts, /etc/resolv.conf, /etc/passwd … over the image's /etc).
      const diff = await pm!.raw(['diff', container]);
      assertOk(diff, 'podman diff');
      const changed = diff.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !PODMAN_MANAGED.has(l.replace(/^[ACD] /, '')));
      assert.deepEqual(changed, [], `files changed outside the tmpfs:\n${diff.stdout}`);
    }),
  );

  test('the credential-provider target is the kubelet plugin as one executable', async () => {
    assert.equal(await inspect(PROVIDER_IMAGE, '{{.Config.User}}'), USER);
    const r = await pm!.raw(['run', '--rm', '--read-only', '--network', 'none', PROVIDER_IMAGE], {
      input:
        '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"x"}',
    });
    // No --registry: refused on stderr with exit 1 (the kubelet's contract), never a crash.
    assert.equal(r.code, 1, describeRun(r));
    assert.equal(r.stderr.trim().split('\n').length, 1, describeRun(r));
    // And copied out to a node, it needs no Node.js: the node's own libc suffices.
    const out = makeTempDir('purser-image-provider-');
    try {
      const cp = await pm!.raw(['create', '--name', `${container}-cp`, PROVIDER_IMAGE]);
      assertOk(cp, 'podman create');
      assertOk(
        await pm!.raw(['cp', `${container}-cp:/opt/purser/purser-credential-provider`, out]),
        'podman cp',
      );
      await pm!.raw(['rm', '--force', `${container}-cp`]);
      assert.deepEqual(readdirSync(out), ['purser-credential-provider']);
      const bin = join(out, 'purser-credential-provider');
      copyFileSync(bin, `${bin}.copy`);
      mkdirSync(join(out, 'empty'));
      const direct = await run(`${bin}.copy`, ['--registry', 'registry.test'], {
        env: { PATH: join(out, 'empty') },
        input:
          '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"registry.test/a:1"}',
      });
      assert.equal(direct.code, 1, describeRun(direct));
      assert.match(direct.stderr, /serviceAccountToken|token/i, describeRun(direct));
    } finally {
      removeDir(out);
    }
  });
});
