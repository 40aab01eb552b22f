// Two `purser serve` processes sharing one real redis-server: a failed-login lockout and a
// revocation (written by `purser revoke`) hold on both; while Redis is down, token issuance
// goes on (rate limits fail open) and refresh grants get 503 (revocation fails closed); once
// Redis is back both recover without a restart.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { purserBin } from '../helpers/paths.js';
import { run } from '../helpers/proc.js';
import { parseExposition } from '../helpers/prom-text.js';
import { generateKeys, type KeyPair, type Purser, startPurser } from '../helpers/purser.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

async function login(p: Purser, user: string, pw: string, offline = false): Promise<Response> {
  return fetch(
    `${p.url}/token?service=registry.test&client_id=docker${offline ? '&offline_token=true' : ''}`,
    {
      headers: { authorization: basic(user, pw) },
    },
  );
}

async function refresh(p: Purser, refreshToken: string): Promise<Response> {
  return fetch(`${p.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      service: 'registry.test',
      scope: 'repository:team/app:pull',
      client_id: 'docker',
    }),
  });
}

async function refreshTokenOf(p: Purser, user: string): Promise<string> {
  const r = await login(p, user, 'pw', true);
  assert.equal(r.status, 200);
  const body = (await r.json()) as { refresh_token?: string };
  assert.ok(body.refresh_token);
  return body.refresh_token;
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('two replicas sharing one redis-server', () => {
  let dir: string;
  let keys: KeyPair;
  let redis: RedisServer;
  let a: Purser;
  let b: Purser;

  const config = () => ({
    token: { issuer: 'purser', service: 'registry.test', key: keys.key, certificate: keys.crt },
    auth: { failedLogins: { max: 3, windowSeconds: 60 } },
    users: {
      alice: { password: 'pw' },
      bob: { password: 'pw' },
      carol: { password: 'pw' },
      dave: { password: 'pw' },
      erin: { password: 'pw' },
    },
    acl: [{ match: { name: 'team/*' }, actions: ['pull'] }],
    redis: { url: redis.url, keyPrefix: 'e2e:' },
  });

  before(async () => {
    dir = makeTempDir('purser-redis-');
    keys = await generateKeys(dir, 'ES256');
    redis = await startRedis();
    a = await startPurser(config());
    b = await startPurser(config());
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
    if (dir) removeDir(dir);
  });

  test('a lockout reached through one replica is enforced by the other', async () => {
    for (let i = 0; i < 3; i++)
      assert.equal((await login(a, 'alice', 'wrong')).status, 401, `failure ${i + 1}`);
    const res = await login(b, 'alice', 'pw');
    assert.equal(res.status, 429, 'the right password, on the other replica: still locked out');
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    assert.equal((await login(b, 'bob', 'pw')).status, 200, 'other users unaffected');
  });

  test('a burst of guesses spread over both replicas gets max attempts in all', async () => {
    // Concurrent, not sequential: each replica's own gate would let `max` checks run at once,
    // so without the slots in Redis two replicas ran twice as many.
    const guesses = await Promise.all(
      Array.from({ length: 16 }, (_, i) => login(i % 2 ? a : b, 'erin', `wrong-${i}`)),
    );
    const statuses = guesses.map((g) => g.status);
    assert.equal(statuses.filter((s) => s === 401).length, 3, `401s among ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 13);
    assert.equal((await login(a, 'erin', 'pw')).status, 429);
    assert.equal((await login(b, 'erin', 'pw')).status, 429);
  });

  test('a refresh token revoked with `purser revoke` is refused by both replicas', async () => {
    const token = await refreshTokenOf(a, 'carol');
    assert.equal((await refresh(b, token)).status, 200, 'valid on the other replica before');
    const r = await run(process.execPath, [
      purserBin,
      'revoke',
      '--config',
      a.configPath,
      '--account',
      'carol',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /revoked the refresh tokens of account "carol"/);
    for (const p of [a, b]) {
      const res = await refresh(p, token);
      assert.equal(res.status, 401, `refused by ${p.url}`);
      assert.match(await res.text(), /revoked/);
    }
    assert.equal((await login(a, 'carol', 'pw')).status, 200, 'a new login still works');
  });

  test('Redis down: tokens still issued (rate limits open), refresh 503 (revocation closed); back: recovers', async () => {
    const token = await refreshTokenOf(b, 'dave');
    await redis.kill();
    for (const p of [a, b]) {
      assert.equal((await login(p, 'bob', 'pw')).status, 200, `issuance goes on through ${p.url}`);
      const res = await refresh(p, token);
      assert.equal(res.status, 503, `refresh refused while revocations cannot be checked (${p.url})`);
    }
    await eventually('the fail-open log line', async () => /redis unreachable: failing open/.test(a.logs()));
    // Both outages are counted: the absorbed (throttle) and the refused (revocation) calls.
    const m = parseExposition(await (await fetch(`${a.url}/metrics`)).text());
    assert.ok(m.value('purser_redis_errors_total', { store: 'throttle' }) > 0, 'throttle errors counted');
    assert.ok(m.value('purser_redis_errors_total', { store: 'revocation' }) > 0, 'revocation errors counted');
    await redis.restart();
    for (const p of [a, b])
      await eventually(
        `refresh through ${p.url} after Redis is back`,
        async () => (await refresh(p, token)).status === 200,
      );
    // The throttle is shared again (the restarted Redis is empty): a new lockout holds on both.
    for (let i = 0; i < 3; i++) await login(b, 'dave', 'wrong');
    assert.equal((await login(a, 'dave', 'pw')).status, 429);
  });
});
