// The kubelet credential provider AS the single executable (dist/purser-credential-provider):
// spawned directly with no node on PATH, fed the exact JSON the kubelet writes, its answer read
// the way the kubelet's strict decoder reads it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  buildProvider,
  kubeletRequest,
  PROVIDER_EXECUTABLE,
  runProviderExecutable,
} from '../helpers/credential-provider.js';
import { TestIssuer } from '../helpers/issuer.js';

const REGISTRY = 'registry.example.com';
const ARGS = ['--registry', REGISTRY, '--registry', '127.0.0.1:5000', '--provider', 'k8s'];
// Go's time.ParseDuration syntax, as metav1.Duration decodes cacheDuration.
const GO_DURATION = /^(?:0|(?:\d+(?:\.\d+)?(?:h|m|s|ms|us|µs|ns))+)$/;

describe('purser-credential-provider as a single executable', { timeout: 180_000 }, () => {
  let issuer: TestIssuer;

  before(async () => {
    await buildProvider();
    issuer = await TestIssuer.start();
  });
  after(() => issuer?.close());

  test('is a native executable, not a node script', () => {
    const head = readFileSync(PROVIDER_EXECUTABLE).subarray(0, 4);
    assert.deepEqual([...head], [0x7f, 0x45, 0x4c, 0x46], 'ELF');
    const fileOut = execFileSync('file', ['-b', PROVIDER_EXECUTABLE], { encoding: 'utf8' });
    assert.doesNotMatch(fileOut, /script/);
  });

  test('with serviceAccountToken: the exact v1 response, nothing more', async () => {
    const token = await issuer.kubernetes('team-a', 'puller', {
      aud: [`https://${REGISTRY}`],
      exp: Math.floor(Date.now() / 1000) + 7200,
    });
    const r = await runProviderExecutable(
      ARGS,
      kubeletRequest(`${REGISTRY}/team-a/app:1.0`, token, { 'purser.example/role': 'pull' }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const res = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(res).sort(), [
      'apiVersion',
      'auth',
      'cacheDuration',
      'cacheKeyType',
      'kind',
    ]);
    assert.equal(res.apiVersion, 'credentialprovider.kubelet.k8s.io/v1');
    assert.equal(res.kind, 'CredentialProviderResponse');
    assert.equal(res.cacheKeyType, 'Registry');
    assert.match(String(res.cacheDuration), GO_DURATION);
    assert.equal(res.cacheDuration, '1h0m0s', 'capped by the default --max-cache 1h');
    assert.deepEqual(res.auth, { [REGISTRY]: { username: 'k8s', password: token } });
  });

  test('cacheDuration follows the token: 10 minutes of life → under 9 minutes', async () => {
    const token = await issuer.kubernetes('team-a', 'puller', { exp: Math.floor(Date.now() / 1000) + 600 });
    const r = await runProviderExecutable(ARGS, kubeletRequest('127.0.0.1:5000/team-a/app@sha256:00', token));
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { cacheDuration: string; auth: Record<string, unknown> };
    assert.match(res.cacheDuration, /^(?:[0-8]m\d{1,2}s|9m0s)$/);
    assert.deepEqual(Object.keys(res.auth), ['127.0.0.1:5000']);
  });

  test('failures: exit 1, one line on stderr without the token, nothing on stdout', async () => {
    const live = await issuer.kubernetes('team-a', 'puller');
    const expired = await issuer.kubernetes('team-a', 'puller', {
      iat: 1_700_000_000,
      nbf: 1_700_000_000,
      exp: 1_700_003_600,
    });
    const cases: [string, string[], string, RegExp][] = [
      ['no serviceAccountToken', ARGS, kubeletRequest(`${REGISTRY}/a/b`), /no serviceAccountToken/],
      ['unknown registry', ARGS, kubeletRequest('other.example.com/a/b', live), /not among --registry/],
      [
        'registry with another port',
        ARGS,
        kubeletRequest('127.0.0.1:5001/a/b', live),
        /not among --registry/,
      ],
      [
        'malformed JSON',
        ARGS,
        `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","serviceAccountToken":"${live}"`,
        /not JSON/,
      ],
      [
        'wrong kind',
        ARGS,
        kubeletRequest(`${REGISTRY}/a/b`, live).replace('CredentialProviderRequest', 'Foo'),
        /kind must be/,
      ],
      [
        'wrong apiVersion',
        ARGS,
        kubeletRequest(`${REGISTRY}/a/b`, live).replace('/v1"', '/v1alpha1"'),
        /apiVersion must be/,
      ],
      ['empty stdin', ARGS, '', /not JSON/],
      [
        'expired token',
        ARGS,
        kubeletRequest(`${REGISTRY}/a/b`, expired),
        /TOKEN_INVALID: serviceAccountToken expired/,
      ],
      ['no --registry', [], kubeletRequest(`${REGISTRY}/a/b`, live), /at least one --registry/],
    ];
    for (const [name, args, stdin, want] of cases) {
      const r = await runProviderExecutable(args, stdin);
      assert.equal(r.code, 1, name);
      assert.equal(r.stdout, '', name);
      assert.match(r.stderr, /^purser-credential-provider: [^\n]+\n$/, name);
      assert.match(r.stderr, want, name);
      for (const t of [live, expired])
        assert.ok(!r.stderr.includes(t.split('.')[1] as string), `${name}: token leaked`);
    }
  });

  test('--help prints the usage and exits 0', async () => {
    const r = await runProviderExecutable(['--help'], '');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--registry HOST\[:PORT\]/);
    assert.equal(r.stderr, '');
  });
});
