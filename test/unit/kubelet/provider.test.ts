// The kubelet credential provider's logic in process: request parsing, registry matching,
// cacheDuration from the token's exp, flags, and failures that never echo the token.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseArgs } from '../../../clients/src/kubelet/args.js';
import { formatGoDuration, parseGoDuration } from '../../../clients/src/kubelet/duration.js';
import {
  imageRegistry,
  matchRegistry,
  registryMatches,
} from '../../../clients/src/kubelet/registry-match.js';
import { cacheSeconds } from '../../../clients/src/kubelet/response.js';
import { runProvider } from '../../../clients/src/kubelet/run.js';
import { repoRoot } from '../../helpers/paths.js';

const NOW = 1_800_000_000;
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (claims: Record<string, unknown>) =>
  `${b64({ alg: 'RS256', kid: 'k' })}.${b64(claims)}.c2lnbmF0dXJl`;
const request = (o: Record<string, unknown>) =>
  JSON.stringify({
    apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
    kind: 'CredentialProviderRequest',
    ...o,
  });

async function run(argv: string[], stdin: string) {
  let stdout = '';
  let stderr = '';
  const code = await runProvider(argv, {
    readStdin: async () => stdin,
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    now: () => NOW,
  });
  return { code, stdout, stderr };
}

describe('kubelet credential provider', () => {
  test('answers a pass-through response capped by --max-cache', async () => {
    const token = jwt({ sub: 'system:serviceaccount:a:b', exp: NOW + 3600 });
    const r = await run(
      ['--registry', 'reg.example.com:5000', '--max-cache', '10m'],
      request({ image: 'reg.example.com:5000/a/app:1', serviceAccountToken: token }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderResponse',
      cacheKeyType: 'Registry',
      cacheDuration: '10m0s',
      auth: { 'reg.example.com:5000': { username: 'kubernetes', password: token } },
    });
  });

  test('cacheDuration stops a margin before exp; under the margin it is 0s; expired fails', () => {
    assert.equal(cacheSeconds(jwt({ exp: NOW + 600 }), 3600, NOW), 540);
    assert.equal(cacheSeconds(jwt({ exp: NOW + 30 }), 3600, NOW), 0);
    assert.throws(() => cacheSeconds(jwt({ exp: NOW }), 3600, NOW), { code: 'TOKEN_INVALID' });
    assert.throws(() => cacheSeconds(jwt({ sub: 'x' }), 3600, NOW), { code: 'TOKEN_INVALID' });
    assert.throws(() => cacheSeconds('not-a-jwt', 3600, NOW), { code: 'TOKEN_INVALID' });
  });

  test('failures: one line on stderr, exit 1, never the token', async () => {
    const token = jwt({ exp: NOW - 10, secret: 'do-not-print' });
    const cases: [string[], string, RegExp][] = [
      [
        ['--registry', 'r.test'],
        request({ image: 'r.test/a', serviceAccountToken: token }),
        /TOKEN_INVALID: .*expired 10s ago/,
      ],
      [
        ['--registry', 'r.test'],
        request({ image: 'other.test/a', serviceAccountToken: token }),
        /not among --registry r\.test/,
      ],
      [
        ['--registry', 'r.test'],
        request({ image: 'r.test/a' }),
        /SOURCE_UNAVAILABLE: no serviceAccountToken/,
      ],
      [['--registry', 'r.test'], request({ image: 'r.test/a', serviceAccountToken: 7 }), /INPUT_INVALID/],
      [['--registry', 'r.test'], request({ image: '' }), /image must be/],
      [
        ['--registry', 'r.test'],
        request({ image: 'r.test/a', serviceAccountAnnotations: { a: 1 } }),
        /serviceAccountAnnotations/,
      ],
      [
        ['--registry', 'r.test'],
        '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","kind":"CredentialProviderRequest","image":"r.test/a"}',
        /apiVersion must be/,
      ],
      [
        ['--registry', 'r.test'],
        '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","image":"r.test/a"}',
        /kind must be/,
      ],
      [['--registry', 'r.test'], `{"image": "${token}"`, /not JSON/],
      [['--registry', 'r.test'], '[]', /not a JSON object/],
      [[], request({ image: 'r.test/a' }), /at least one --registry/],
      [['--registry', 'https://r.test'], '', /without scheme or path/],
      [['--registry', 'r.test', '--max-cache', '1 hour'], '', /not a Go duration/],
      [['--registry', 'r.test', '--provider', 'a:b'], '', /--provider must be/],
      [['--registry', 'r.test', '--bogus'], '', /unknown argument/],
    ];
    for (const [argv, stdin, want] of cases) {
      const r = await run(argv, stdin);
      assert.equal(r.code, 1, `${argv.join(' ')} ${stdin}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^purser-credential-provider: [^\n]+\n$/);
      assert.match(r.stderr, want);
      assert.ok(
        !r.stderr.includes(token.split('.')[1] as string) && !r.stderr.includes('do-not-print'),
        r.stderr,
      );
    }
  });

  test('matches registries like the kubelet: host labels with globs, port exactly', () => {
    assert.equal(imageRegistry('nginx:1'), 'docker.io');
    assert.equal(imageRegistry('library/nginx'), 'docker.io');
    assert.equal(imageRegistry('localhost/x'), 'localhost');
    assert.equal(imageRegistry('[::1]:5000/x@sha256:ab'), '[::1]:5000');
    assert.ok(registryMatches('*.example.com', 'reg.example.com'));
    assert.ok(registryMatches('reg-*.example.com', 'reg-eu.example.com'));
    assert.ok(!registryMatches('*.example.com', 'a.b.example.com'));
    assert.ok(!registryMatches('*.example.com', 'example.com'));
    assert.ok(!registryMatches('reg.example.com', 'reg.example.com:5000'));
    assert.ok(!registryMatches('reg.example.com:5000', 'reg.example.com:5001'));
    assert.ok(registryMatches('reg.example.com', 'REG.example.com'));
    assert.ok(!registryMatches('reg.example.com', 'reg.example.com.evil.test'));
    assert.equal(matchRegistry(['a.test', '127.0.0.1:5000'], '127.0.0.1:5000/ns/app:1'), '127.0.0.1:5000');
    assert.equal(matchRegistry(['a.test'], 'a.test.evil/x'), undefined);
  });

  test('Go durations: parse the flag, print like Duration.String()', () => {
    assert.equal(parseGoDuration('1h'), 3600);
    assert.equal(parseGoDuration('1h30m'), 5400);
    assert.equal(parseGoDuration('1.5m'), 90);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('500ms'), 0);
    for (const bad of ['', '1', '-1h', '1d', 'h', '1h ', '1e3s'])
      assert.equal(parseGoDuration(bad), undefined, bad);
    assert.equal(formatGoDuration(0), '0s');
    assert.equal(formatGoDuration(45), '45s');
    assert.equal(formatGoDuration(300), '5m0s');
    assert.equal(formatGoDuration(3600), '1h0m0s');
    assert.equal(formatGoDuration(3661), '1h1m1s');
  });

  test('flags: defaults, = form, repeats, --help', () => {
    assert.deepEqual(parseArgs(['--registry=A.test', '--registry', 'b.test:443']), {
      help: false,
      registries: ['a.test', 'b.test:443'],
      provider: 'kubernetes',
      maxCacheSeconds: 3600,
    });
    assert.deepEqual(parseArgs(['--registry', 'a.test', '--help']), { help: true });
  });

  test('the package bin runs the same provider (stdin, stdout, exit code)', () => {
    const bin = join(repoRoot, 'bin', 'purser-credential-provider.js');
    const token = jwt({ exp: Math.floor(Date.now() / 1000) + 7200 });
    const ok = spawnSync(process.execPath, [bin, '--registry', 'r.test'], {
      input: request({ image: 'r.test/a/b:1', serviceAccountToken: token }),
      encoding: 'utf8',
    });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).cacheDuration, '1h0m0s');
    const bad = spawnSync(process.execPath, [bin, '--registry', 'r.test'], { input: '{', encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^purser-credential-provider: INPUT_INVALID: .*not JSON\n$/);
  });
});
