// The embedded default's registry pieces that need no registry: finding the binary, the
// command-line rules, the shortened log lines and the banner.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { clientCommands, devBanner } from '../../../src/cli/dev-banner.js';
import { checkRegistryBin, findRegistryBin } from '../../../src/cli/dev-registry.js';
import { lineSplitter, MAX_LINE, shortenRegistryLine } from '../../../src/cli/registry-log.js';
import { UsageError } from '../../../src/cli/usage.js';
import { purserBin } from '../../helpers/paths.js';
import { run } from '../../helpers/proc.js';
import { tempDir } from '../support.js';

const t = tempDir('purser-dev-registry-');
after(() => t.cleanup());

function exe(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  writeFileSync(p, '#!/bin/sh\nexit 0\n');
  chmodSync(p, 0o755);
  return p;
}

/**
 * `purser serve ARGS` as a child in a temp directory, killed after 15 s: these must fail fast,
 * and a regression that starts serving instead must fail the test, not hang it.
 */
async function serve(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stderr: string }> {
  const cwd = join(t.dir, `cwd-${Math.random().toString(36).slice(2)}`);
  mkdirSync(cwd);
  const r = await run(process.execPath, [purserBin, 'serve', ...args], {
    cwd,
    env: { ...process.env, PURSER_LISTEN: '127.0.0.1:0', PURSER_REGISTRY_LISTEN: '127.0.0.1:0', ...env },
    timeout: 15_000,
  });
  return { code: r.code, stderr: r.timedOut ? `TIMED OUT\n${r.stderr}` : r.stderr };
}

describe('findRegistryBin / checkRegistryBin', () => {
  test('docker-registry before registry, in PATH order; non-executable files and dirs are skipped', () => {
    const a = join(t.dir, 'a');
    const b = join(t.dir, 'b');
    mkdirSync(join(a, 'docker-registry'), { recursive: true }); // a directory, not a binary
    writeFileSync(join(a, 'registry'), 'not executable');
    const reg = exe(b, 'registry');
    assert.equal(findRegistryBin(`${a}:${b}`), reg);
    const dreg = exe(b, 'docker-registry');
    assert.equal(findRegistryBin(`${a}:${b}`), dreg);
    assert.equal(findRegistryBin(join(t.dir, 'none')), undefined);
    assert.equal(findRegistryBin(''), undefined);
  });

  test('--registry-bin must be an executable file', () => {
    const ok = exe(join(t.dir, 'c'), 'my-registry');
    assert.equal(checkRegistryBin(ok), ok);
    assert.throws(() => checkRegistryBin(join(t.dir, 'missing')), UsageError);
    assert.throws(() => checkRegistryBin(t.dir), /not an executable file/);
  });
});

describe('serve: registry options', () => {
  test('--registry-bin that is not executable, with --config, or with --no-registry -> exit 2', async () => {
    const ok = exe(join(t.dir, 'd'), 'registry');
    const cases = await Promise.all([
      serve(['--registry-bin', join(t.dir, 'missing')]),
      serve(['--config', 'x.yml', '--registry-bin', ok]),
      serve(['--config', 'x.yml', '--no-registry']),
      serve(['--registry-bin', ok, '--no-registry']),
    ]);
    for (const r of cases) {
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /--registry-bin|--no-registry/);
    }
    assert.match(cases[0]!.stderr, /not an executable file/);
  });

  test('PURSER_REGISTRY_LISTEN that is not HOST:PORT -> exit 2 before anything starts', async () => {
    const bads = ['5000', '127.0.0.1:70000', ':5000', '127.0.0.1:x'];
    const rs = await Promise.all(bads.map((bad) => serve([], { PURSER_REGISTRY_LISTEN: bad })));
    rs.forEach((r, i) => {
      assert.equal(r.code, 2, `${bads[i]}: ${r.stderr}`);
      assert.match(r.stderr, /PURSER_REGISTRY_LISTEN=.*want HOST:PORT/);
    });
  });
});

describe('registry log lines', () => {
  test('logrus lines: time and noise dropped, the request fields kept and short', () => {
    assert.equal(
      shortenRegistryLine(
        'time="2026-12-01T09:31:27.4Z" level=info msg="redis not configured" go.version=go1.19.8 instance.id=f3d3 version=2.8.2+ds1',
      ),
      '[registry] redis not configured',
    );
    assert.equal(
      shortenRegistryLine(
        'time="2026-12-01T09:31:27Z" level=warning msg="error authorizing context: authorization token required" go.version=go1.19.8 http.request.host="127.0.0.1:5000" http.request.id=1f http.request.method=GET http.request.remoteaddr="127.0.0.1:3344" http.request.uri="/v2/" http.request.useragent="curl/7.88" vars.name="dev/app"',
      ),
      '[registry] warning: error authorizing context: authorization token required method=GET uri="/v2/" repo="dev/app"',
    );
    assert.equal(
      shortenRegistryLine(
        'time="x" level=fatal msg="listen tcp 127.0.0.1:5000: bind: address already in use"',
      ),
      '[registry] fatal: listen tcp 127.0.0.1:5000: bind: address already in use',
    );
    assert.equal(shortenRegistryLine('panic: boom'), '[registry] panic: boom');
    assert.equal(
      shortenRegistryLine('time="x" level=info msg="a \\"quoted\\" word"'),
      '[registry] a "quoted" word',
    );
  });

  test('a long line is cut; a stream without newlines cannot grow the buffer', () => {
    const long = shortenRegistryLine('x'.repeat(MAX_LINE * 3));
    assert.ok(long.length <= MAX_LINE + 20, String(long.length));
    const lines: string[] = [];
    const s = lineSplitter((l) => lines.push(l));
    s.push('one\r\ntw');
    s.push('o\nthree');
    assert.deepEqual(lines, ['one', 'two']);
    s.end();
    assert.deepEqual(lines, ['one', 'two', 'three']);
    for (let i = 0; i < 100; i++) s.push('y'.repeat(1000));
    assert.ok(lines.length > 3, 'flushed without a newline');
    assert.ok(lines.every((l) => l.length <= MAX_LINE * 4 + 1000));
  });
});

describe('the development banner', () => {
  const base = {
    realm: 'http://127.0.0.1:5001/token',
    user: 'dev',
    password: 'pw-123',
    baseDir: '/home/u/app/.purser',
    service: 'registry.local',
    issuer: 'purser',
    snippet: 'auth:\n  token:\n    realm: http://127.0.0.1:5001/token\n',
  };

  test('with a registry: the login, push and pull commands for skopeo, podman and docker', () => {
    const b = devBanner({
      ...base,
      registry: { host: '127.0.0.1:5000', storage: '/home/u/app/.purser/registry' },
    });
    assert.match(b, /^ {2}registry: +127\.0\.0\.1:5000 /m);
    assert.match(b, /^ {2}password: +pw-123$/m);
    assert.match(b, /rm -rf \.purser/);
    for (const c of [
      "printf '%s\\n' 'pw-123' | skopeo login --tls-verify=false -u dev --password-stdin 127.0.0.1:5000",
      "printf '%s\\n' 'pw-123' | podman login --tls-verify=false -u dev --password-stdin 127.0.0.1:5000",
      "printf '%s\\n' 'pw-123' | docker login -u dev --password-stdin 127.0.0.1:5000",
      'docker push 127.0.0.1:5000/dev/busybox:latest',
      'docker pull 127.0.0.1:5000/dev/busybox:latest',
      'podman push --tls-verify=false 127.0.0.1:5000/dev/busybox:latest',
      'skopeo copy --src-tls-verify=false docker://127.0.0.1:5000/dev/busybox:latest oci:busybox-copy:latest',
    ]) {
      assert.ok(b.includes(c), c);
    }
    assert.match(b, /insecure-registries/);
    assert.doesNotMatch(b, /apt-get/);
  });

  test('without one: why, the hint, the registry:2 command and the auth.token block', () => {
    const b = devBanner({ ...base, noRegistry: 'neither docker-registry nor registry is on PATH' });
    assert.match(b, /No registry is running: neither docker-registry nor registry is on PATH\./);
    assert.match(b, /apt-get install docker-registry/);
    assert.match(b, /REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE=\/purser\/token\.crt/);
    assert.match(b, /-v '\/home\/u\/app\/\.purser':\/purser:ro/);
    assert.match(b, / {4}auth:\n {6}token:/);
    assert.doesNotMatch(b, /skopeo login/);
  });

  test('a password with a quote stays one shell word', () => {
    assert.ok(clientCommands('h:1', 'dev', "a'b").includes(`printf '%s\\n' 'a'\\''b' |`));
  });
});
