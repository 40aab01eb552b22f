import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { LoginCache } from '../../../src/authn/login-cache.js';
import { FailedLoginLimiter } from '../../../src/authn/rate-limit.js';
import { StaticUsers, type StoredCredential } from '../../../src/authn/static-users.js';
import { Secret } from '../../../src/util/secret.js';
import { cheapHash } from '../support.js';

const creds = (username: string, password: string) => ({ username, password: new Secret(password) });
const ctx = { ip: '127.0.0.1' };

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  return [r, performance.now() - t];
}

describe('StaticUsers', () => {
  const users = new Map<string, StoredCredential>([
    ['alice', { hash: cheapHash('wonderland') }],
    ['bob', { password: new Secret('builder') }],
  ]);
  const su = new StaticUsers(users, 60);

  test('right password: authenticated as a static identity', async () => {
    assert.deepEqual(await su.authenticate(creds('alice', 'wonderland'), ctx), {
      outcome: 'authenticated',
      identity: { account: 'alice', provider: 'static', labels: {}, claims: {} },
    });
    assert.equal((await su.authenticate(creds('bob', 'builder'), ctx)).outcome, 'authenticated');
  });

  test('wrong password: rejected with a reason that does not include the password', async () => {
    for (const [u, p] of [
      ['alice', 'wonderlan'],
      ['alice', 'wonderland '],
      ['alice', ''],
      ['bob', 'Builder'],
      ['bob', 'builder\n'],
      ['bob', 'builde'],
    ] as const) {
      const r = await su.authenticate(creds(u, p), ctx);
      assert.equal(r.outcome, 'rejected', `${u}/${p}`);
      assert.ok(
        r.outcome === 'rejected' && !r.reason.includes(p || '\u0000'),
        r.outcome === 'rejected' ? r.reason : '',
      );
    }
  });

  test('unknown user: no-match (the next authenticator may claim it)', async () => {
    assert.deepEqual(await su.authenticate(creds('mallory', 'x'), ctx), { outcome: 'no-match' });
  });

  test('has, size', () => {
    assert.equal(su.has('alice'), true);
    assert.equal(su.has('mallory'), false);
    assert.equal(su.size, 2);
  });

  const secret = Buffer.alloc(32, 7);
  test('credentialFingerprint changes with the password and differs per user', () => {
    const a1 = su.credentialFingerprint('alice', secret);
    assert.match(a1 ?? '', /^[A-Za-z0-9_-]{22}$/);
    assert.equal(su.credentialFingerprint('alice', secret), a1, 'stable');
    assert.equal(su.credentialFingerprint('mallory', secret), undefined);
    const changed = new StaticUsers(new Map([['alice', { hash: cheapHash('wonderland') }]]), 60);
    assert.notEqual(
      changed.credentialFingerprint('alice', secret),
      a1,
      'a new hash (even of the same password) revokes',
    );
    const b1 = su.credentialFingerprint('bob', secret);
    const b2 = new StaticUsers(
      new Map([['bob', { password: new Secret('builder2') }]]),
      60,
    ).credentialFingerprint('bob', secret);
    assert.notEqual(b1, b2);
    assert.ok(!String(b1).includes('builder'));
  });

  test('credentialFingerprint is keyed: another secret gives another fingerprint', () => {
    assert.notEqual(
      su.credentialFingerprint('bob', secret),
      su.credentialFingerprint('bob', Buffer.alloc(32, 8)),
    );
  });

  test('a malformed stored hash rejects instead of throwing', async () => {
    const s = new StaticUsers(new Map([['x', { hash: '$2b$10$notreallyahash' }]]), 60);
    assert.equal((await s.authenticate(creds('x', 'y'), ctx)).outcome, 'rejected');
  });
});

describe('StaticUsers login cache (cost-12 hash)', () => {
  // Precomputed (generating a cost-12 hash costs as much as checking one).
  const h12 = '$2b$12$SW8VI8dzjPLVKnoqvR0NmOJ4daeJ9qhfIJwWVoWmTQJcNw60RxNWW'; // "correct horse"
  const h10 = '$2b$10$uckWh10NgqnNAC680j.UROa.pLnXcr9ui/vmgQddfMC5Otk6rEebS'; // "battery staple"

  test('the second verify of the same password hits the cache; a different password does not', async () => {
    const su = new StaticUsers(new Map([['carol', { hash: h12 }]]), 60);
    const [r1, t1] = await timed(() => su.authenticate(creds('carol', 'correct horse'), ctx));
    assert.equal(r1.outcome, 'authenticated');
    // Best of five, so that the OS descheduling this process on a busy machine does not count.
    let t2 = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5; i++) {
      const [r2, t] = await timed(() => su.authenticate(creds('carol', 'correct horse'), ctx));
      assert.equal(r2.outcome, 'authenticated');
      t2 = Math.min(t2, t);
    }
    assert.ok(t1 > 40, `first check should pay bcrypt cost 12, took ${t1.toFixed(1)} ms`);
    assert.ok(t2 < 5, `second check should hit the cache, took ${t2.toFixed(2)} ms`);
    const [r3, t3] = await timed(() => su.authenticate(creds('carol', 'correct horsE'), ctx));
    assert.equal(r3.outcome, 'rejected');
    assert.ok(t3 > 40, `a different password must not hit the cache, took ${t3.toFixed(1)} ms`);
  });

  test('cacheSeconds 0 disables the cache', async () => {
    const su = new StaticUsers(new Map([['dave', { hash: h10 }]]), 0);
    await su.authenticate(creds('dave', 'battery staple'), ctx);
    const [r, t] = await timed(() => su.authenticate(creds('dave', 'battery staple'), ctx));
    assert.equal(r.outcome, 'authenticated');
    assert.ok(t > 10, `no cache: ${t.toFixed(1)} ms`);
  });

  test('a failed check is not cached as a success', async () => {
    const su = new StaticUsers(new Map([['carol', { hash: h10 }]]), 60);
    assert.equal((await su.authenticate(creds('carol', 'nope'), ctx)).outcome, 'rejected');
    assert.equal((await su.authenticate(creds('carol', 'nope'), ctx)).outcome, 'rejected');
  });
});

describe('LoginCache', () => {
  const T = 1_700_000_000_000;

  test('hit within ttl, miss after it', () => {
    const c = new LoginCache(60);
    c.add('u', 'p', 'h', T);
    assert.equal(c.has('u', 'p', 'h', T + 59_999), true);
    assert.equal(c.has('u', 'p', 'h', T + 60_000), false);
    assert.equal(c.has('u', 'p', 'h', T), false, 'an expired entry is dropped');
  });

  test('keyed by user, password and stored hash', () => {
    const c = new LoginCache(60);
    c.add('u', 'p', 'h', T);
    assert.equal(c.has('u', 'p', 'h', T), true);
    assert.equal(c.has('v', 'p', 'h', T), false);
    assert.equal(c.has('u', 'q', 'h', T), false);
    assert.equal(c.has('u', 'p', 'h2', T), false, 'a changed hash misses');
  });

  test('ttl 0 never caches', () => {
    const c = new LoginCache(0);
    c.add('u', 'p', 'h', T);
    assert.equal(c.has('u', 'p', 'h', T), false);
  });

  test('bounded: the oldest entry is dropped', () => {
    const c = new LoginCache(60, 3);
    for (const u of ['a', 'b', 'c', 'd']) c.add(u, 'p', 'h', T);
    assert.equal(c.has('a', 'p', 'h', T), false);
    for (const u of ['b', 'c', 'd']) assert.equal(c.has(u, 'p', 'h', T), true, u);
  });

  test('two caches do not share keys (per-process HMAC key)', () => {
    const a = new LoginCache(60);
    const b = new LoginCache(60);
    a.add('u', 'p', 'h', T);
    assert.equal(b.has('u', 'p', 'h', T), false);
  });
});

describe('FailedLoginLimiter', () => {
  const T = 1_700_000_000_000;

  test('blocks after max failures within the window, with seconds to wait', () => {
    const l = new FailedLoginLimiter(3, 60);
    for (let i = 0; i < 2; i++) l.fail('k', T + i * 1000);
    assert.equal(l.retryAfter('k', T + 2000), 0, 'two failures: still allowed');
    l.fail('k', T + 2000);
    assert.equal(l.retryAfter('k', T + 2000), 58);
    assert.equal(l.retryAfter('k', T + 59_500), 1);
    assert.equal(l.retryAfter('other', T + 2000), 0, 'other keys unaffected');
  });

  test('unblocks after the window', () => {
    const l = new FailedLoginLimiter(2, 10);
    l.fail('k', T);
    l.fail('k', T + 1);
    assert.ok(l.retryAfter('k', T + 9_999) > 0);
    assert.equal(l.retryAfter('k', T + 10_000), 0);
    // A fresh window starts with the next failure.
    l.fail('k', T + 10_001);
    assert.equal(l.retryAfter('k', T + 10_002), 0);
    l.fail('k', T + 10_002);
    assert.ok(l.retryAfter('k', T + 10_003) > 0);
  });

  test('failures spread over more than a window do not add up', () => {
    const l = new FailedLoginLimiter(2, 10);
    l.fail('k', T);
    l.fail('k', T + 10_000);
    assert.equal(l.retryAfter('k', T + 10_001), 0);
  });

  test('succeed() resets the count', () => {
    const l = new FailedLoginLimiter(2, 60);
    l.fail('k', T);
    l.succeed('k');
    l.fail('k', T + 1);
    assert.equal(l.retryAfter('k', T + 2), 0);
    l.fail('k', T + 2);
    assert.ok(l.retryAfter('k', T + 3) > 0);
    l.succeed('k');
    assert.equal(l.retryAfter('k', T + 3), 0);
  });

  test('bounded number of keys: the oldest is forgotten', () => {
    const l = new FailedLoginLimiter(1, 60, 2);
    l.fail('a', T);
    l.fail('b', T);
    l.fail('c', T);
    assert.equal(l.retryAfter('a', T), 0);
    assert.ok(l.retryAfter('b', T) > 0);
    assert.ok(l.retryAfter('c', T) > 0);
  });
});
