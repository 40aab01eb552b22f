// A first run as a new user has it: `purser serve` with no config in an empty directory starts
// Purser and, as its child, the distribution registry; the banner's credentials work with
// skopeo (push and pull back), anonymous callers may pull but not push, and SIGTERM (or Purser
// dying) leaves no registry behind. Without a registry binary the same start-up serves tokens
// and says how to get one.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { buildOciImage, readLayoutDigest } from '../helpers/oci.js';
import { purserBin } from '../helpers/paths.js';
import { describeRun, type Proc, type RunResult, startProcess } from '../helpers/proc.js';
import { createSkopeo } from '../helpers/skopeo.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const dirs: string[] = [];
const procs: Proc[] = [];
after(async () => {
  for (const p of procs) await p.stop(3_000);
  for (const d of dirs) removeDir(d);
});

function tempDir(prefix: string): string {
  const d = makeTempDir(prefix);
  dirs.push(d);
  return d;
}

/** `purser serve ARGS` in a fresh working directory, on random ports. */
function serveDev(
  args: string[] = [],
  env: NodeJS.ProcessEnv = process.env,
  registryListen = '127.0.0.1:0',
  cwd = tempDir('purser-first-run-'),
): { proc: Proc; cwd: string } {
  const proc = startProcess(process.execPath, [purserBin, 'serve', ...args], {
    cwd,
    env: { ...env, PURSER_LISTEN: '127.0.0.1:0', PURSER_REGISTRY_LISTEN: registryListen },
    name: 'purser serve (development default)',
  });
  procs.push(proc);
  return { proc, cwd };
}

/** The value printed after `label:` in the banner. */
async function bannerValue(proc: Proc, label: string): Promise<string> {
  const re = new RegExp(`^ {2}${label}: +(\\S+)`);
  const line = await proc.waitForLine(re, 20_000);
  return re.exec(line)![1]!;
}

/** Gone, or a zombie waiting for init to reap it (it runs nothing any more). */
function pidGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pidGone(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pidGone(pid);
}

function assertOk(r: RunResult, what: string): void {
  assert.equal(r.code, 0, `${what}:\n${describeRun(r)}`);
}

async function startedRegistry(proc: Proc): Promise<{ host: string; pid: number }> {
  const host = await bannerValue(proc, 'registry');
  const started = await proc.waitForLine(/INFO +registry started .*pid=\d+/, 20_000);
  return { host, pid: Number(/pid=(\d+)/.exec(started)![1]) };
}

describe('first run: purser serve with no config', { timeout: 180_000 }, () => {
  test('starts a registry whose tokens come from Purser: login, push, pull, anonymous pull only, SIGTERM stops both', async () => {
    const { proc, cwd } = serveDev();
    const password = await bannerValue(proc, 'password');
    const user = await bannerValue(proc, 'development user');
    const { host, pid } = await startedRegistry(proc);
    assert.equal(user, 'dev');
    assert.ok(!pidGone(pid), 'registry process running');
    // The banner's commands are the ones used below, with the printed values filled in.
    const out = proc.stdout();
    assert.ok(
      out.includes(
        `printf '%s\\n' '${password}' | skopeo login --tls-verify=false -u dev --password-stdin ${host}`,
      ),
      out,
    );
    assert.ok(out.includes(`docker login -u dev --password-stdin ${host}`), out);
    assert.ok(out.includes(`podman login --tls-verify=false -u dev --password-stdin ${host}`), out);
    assert.match(out, /insecure-registries/);
    assert.match(out, /rm -rf \.purser/);
    // The registry's state lives under ./.purser, and its log lines are prefixed.
    assert.ok(existsSync(join(cwd, '.purser', 'registry.yml')));
    assert.match(out, /^\[registry\] listening on /m);

    const sk = createSkopeo();
    dirs.push(sk.dir);
    const img = await buildOciImage({ dir: join(tempDir('purser-first-run-img-'), 'img'), tag: 'v1' });
    assertOk(await sk.login(host, user, password), 'skopeo login with the printed credentials');
    assertOk(await sk.copy(img.ref, `docker://${host}/dev/app:v1`), 'push');
    const back = join(tempDir('purser-first-run-pull-'), 'back');
    assertOk(await sk.copy(`docker://${host}/dev/app:v1`, `oci:${back}:v1`), 'pull');
    assert.equal(readLayoutDigest(back, 'v1'), img.manifestDigest);
    assert.ok(
      existsSync(join(cwd, '.purser', 'registry', 'docker', 'registry', 'v2', 'repositories', 'dev', 'app')),
    );

    const anon = join(tempDir('purser-first-run-anon-'), 'anon');
    assertOk(
      await sk.copy(`docker://${host}/dev/app:v1`, `oci:${anon}:v1`, { src: 'anonymous' }),
      'anonymous pull',
    );
    const push = await sk.copy(img.ref, `docker://${host}/dev/anon:v1`, { dest: 'anonymous' });
    assert.notEqual(push.code, 0, `anonymous push must be refused:\n${describeRun(push)}`);
    assert.match(push.stderr, /unauthorized|authentication required|denied/i);

    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    assert.equal(exit.code, 0, proc.logs());
    assert.ok(await waitGone(pid, 2_000), `registry pid ${pid} still running after Purser stopped`);
    assert.doesNotMatch(proc.stdout(), /Terminated/);
  });

  test('a Purser killed with SIGKILL takes its registry with it', async () => {
    const { proc } = serveDev();
    const { pid } = await startedRegistry(proc);
    proc.child.kill('SIGKILL');
    await proc.exited;
    assert.ok(await waitGone(pid, 5_000), `registry pid ${pid} outlived Purser`);
  });

  test('without a registry binary on PATH it serves tokens and says how to get one', async () => {
    const empty = tempDir('purser-first-run-path-');
    const { proc } = serveDev([], { ...process.env, PATH: empty });
    const realm = await bannerValue(proc, 'token endpoint');
    const password = await bannerValue(proc, 'password');
    await proc.waitForLine(/registry:2/, 10_000);
    const out = proc.stdout();
    assert.match(out, /No registry is running: neither docker-registry nor registry is on PATH/);
    assert.match(out, /apt-get install docker-registry/);
    assert.match(out, /rootcertbundle: /);
    assert.doesNotMatch(out, /\[registry\]/);
    const basic = Buffer.from(`dev:${password}`).toString('base64');
    const res = await fetch(`${realm}?service=registry.local&scope=repository:dev/app:pull,push`, {
      headers: { authorization: `Basic ${basic}` },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { token?: string };
    assert.ok(body.token && body.token.split('.').length === 3);
    proc.child.kill('SIGTERM');
    assert.equal((await proc.exited).code, 0);
  });

  test('its port taken: the registry takes the next free one', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    try {
      const taken = (holder.address() as { port: number }).port;
      const { proc } = serveDev([], process.env, `127.0.0.1:${taken}`);
      const { host, pid } = await startedRegistry(proc);
      const port = Number(host.split(':')[1]);
      assert.ok(port > taken && port <= taken + 20, `${host} after ${taken}`);
      const res = await fetch(`http://${host}/v2/`);
      assert.equal(res.status, 401);
      proc.child.kill('SIGTERM');
      assert.equal((await proc.exited).code, 0);
      assert.ok(await waitGone(pid, 2_000));
    } finally {
      holder.close();
    }
  });

  test('a registry that fails to start: Purser still serves tokens and says why', async () => {
    const bin = join(tempDir('purser-first-run-bin-'), 'broken-registry');
    writeFileSync(
      bin,
      '#!/bin/sh\necho \'time="x" level=fatal msg="configuration error: boom"\' >&2\nexit 1\n',
    );
    chmodSync(bin, 0o755);
    const { proc } = serveDev(['--registry-bin', bin]);
    const realm = await bannerValue(proc, 'token endpoint');
    await proc.waitForLine(/No registry is running/, 10_000);
    assert.match(
      proc.stdout(),
      /No registry is running: .*broken-registry: the development registry did not start: it exited: fatal: configuration error: boom\./,
    );
    assert.match(proc.stdout(), /\[registry\] fatal: configuration error: boom/);
    const res = await fetch(`${realm}?service=registry.local`);
    assert.equal(res.status, 200, 'anonymous token');
    proc.child.kill('SIGTERM');
    assert.equal((await proc.exited).code, 0);
  });

  test('a second start in the same directory keeps the password and the images; rm -rf .purser resets', async () => {
    const first = serveDev();
    const password = await bannerValue(first.proc, 'password');
    const { host } = await startedRegistry(first.proc);
    const sk = createSkopeo();
    dirs.push(sk.dir);
    const img = await buildOciImage({ dir: join(tempDir('purser-first-run-img-'), 'img'), tag: 'v1' });
    assertOk(
      await sk.copy(img.ref, `docker://${host}/dev/keep:v1`, { dest: { username: 'dev', password } }),
      'push',
    );
    first.proc.child.kill('SIGTERM');
    assert.equal((await first.proc.exited).code, 0);

    const second = serveDev([], process.env, '127.0.0.1:0', first.cwd);
    assert.equal(await bannerValue(second.proc, 'password'), password);
    const again = await startedRegistry(second.proc);
    const back = join(tempDir('purser-first-run-pull-'), 'back');
    assertOk(
      await sk.copy(`docker://${again.host}/dev/keep:v1`, `oci:${back}:v1`, { src: 'anonymous' }),
      'pull after restart',
    );
    assert.equal(readLayoutDigest(back, 'v1'), img.manifestDigest);
    second.proc.child.kill('SIGTERM');
    assert.equal((await second.proc.exited).code, 0);

    removeDir(join(first.cwd, '.purser'));
    const third = serveDev([], process.env, '127.0.0.1:0', first.cwd);
    assert.notEqual(await bannerValue(third.proc, 'password'), password);
    third.proc.child.kill('SIGTERM');
    assert.equal((await third.proc.exited).code, 0);
  });
});
