import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { LoginCache } from '../../../src/authn/login-cache.js';
import { StaticUsers, type StoredCredential } from '../../../src/authn/static-users.js';
import { Secret } from '../../../src/core/secret.js';
import { MemoryLoginCacheStore } from '../../../src/state/login-cache.js';
import { cheapHash } from '../support.js';

const creds = (username: string, password: string) => ({ username, password: new Secret(password) });
const ctx = { ip: '127.0.0.1' };

async function timed<T>(f: () => T | PromiseLike<T>): Promise<[T, number]> {
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

  test("a user's groups and labels are its identity's, at login and at a refresh", async () => {
    const withGroups = new StaticUsers(
      new Map<string, StoredCredential>([
        ['gina', { password: new Secret('pw'), groups: ['admins', 'dev'], labels: { team: 'platform' } }],
      ]),
      60,
      { refreshLifetime: 600 },
    );
    const expected = {
      account: 'gina',
      provider: 'static',
      labels: { team: 'platform' },
      claims: {},
      groups: ['admins', 'dev'],
    };
    assert.deepEqual(await withGroups.authenticate(creds('gina', 'pw'), ctx), {
      outcome: 'authenticated',
      identity: expected,
    });
    // A refresh recomputes the identity from the configuration, not from the token.
    const saved = { account: 'gina', provider: 'static', labels: {}, claims: {} };
    assert.deepEqual(withGroups.restore(saved), { outcome: 'authenticated', identity: expected });
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
  // The store keeps time by its own clock; these tests keep it at T.
  const store = (max?: number) =>
    new MemoryLoginCacheStore({ now: () => T, ...(max ? { maxEntries: max } : {}) });

  test('hit within ttl, miss after it', async () => {
    const c = new LoginCache(60, { store: store() });
    await c.add('u', 'p', 'h', T);
    assert.equal(await c.has('u', 'p', 'h', T + 59_999), true);
    assert.equal(await c.has('u', 'p', 'h', T + 60_000), false);
  });

  test('keyed by user, password and stored hash', async () => {
    const c = new LoginCache(60, { store: store() });
    await c.add('u', 'p', 'h', T);
    assert.equal(await c.has('u', 'p', 'h', T), true);
    assert.equal(await c.has('v', 'p', 'h', T), false);
    assert.equal(await c.has('u', 'q', 'h', T), false);
    assert.equal(await c.has('u', 'p', 'h2', T), false, 'a changed hash misses');
  });

  test('ttl 0 never caches', async () => {
    const c = new LoginCache(0, { store: store() });
    await c.add('u', 'p', 'h', T);
    assert.equal(await c.has('u', 'p', 'h', T), false);
  });

  test('bounded by its store: the oldest entry is dropped', async () => {
    const c = new LoginCache(60, { store: store(3) });
    for (const u of ['a', 'b', 'c', 'd']) await c.add(u, 'p', 'h', T);
    assert.equal(await c.has('a', 'p', 'h', T), false);
    for (const u of ['b', 'c', 'd']) assert.equal(await c.has(u, 'p', 'h', T), true, u);
  });

  test('two caches on one store share entries only with the same secret', async () => {
    const shared = store();
    const secret = Buffer.alloc(32, 7);
    const a = new LoginCache(60, { store: shared, secret });
    await a.add('u', 'p', 'h', T);
    assert.equal(await new LoginCache(60, { store: shared, secret }).has('u', 'p', 'h', T), true);
    assert.equal(await new LoginCache(60, { store: shared }).has('u', 'p', 'h', T), false, 'random secret');
  });

  test('near expiry an entry answers refresh (renewed in the background by StaticUsers)', async () => {
    const c = new LoginCache(60, { store: store() });
    const id = c.id('u', 'p', 'h');
    await c.remember(id, T);
    assert.equal(await c.state(id, T + 30_000), 'hit');
    assert.equal(await c.state(id, T + 50_000), 'refresh');
  });
});
