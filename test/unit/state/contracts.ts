// The contract every state store implementation must keep, as test suites any
// implementation runs: memory-stores.test.ts runs them on the in-memory defaults, and a
// Redis (or other) store runs the same with its own factory. Each factory gets a clock the
// suite moves (epoch ms); a store whose time is not its own (Redis TTLs) maps it as it can.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LoginCacheStore } from '../../../src/state/login-cache.js';
import type { ReplayStore } from '../../../src/state/replay.js';
import type { RevocationStore } from '../../../src/state/revocation.js';
import type { ThrottleStore } from '../../../src/state/throttle.js';

export interface Clock {
  now: number;
}

/** Options every factory gets: the suite's clock and, for the bounds tests, a small capacity. */
export interface StoreSetup {
  now: () => number;
  capacity?: number;
}

const T0 = Date.UTC(2030, 0, 1);

function clock(): Clock & { fn: () => number } {
  const c = { now: T0, fn: () => c.now };
  return c;
}

export function throttleStoreContract(name: string, make: (s: StoreSetup) => ThrottleStore): void {
  describe(`ThrottleStore contract: ${name}`, () => {
    const p = (max: number, windowSeconds: number) => ({ max, windowSeconds });

    test('blocks after max failures within the window, with seconds to wait', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      await s.fail('k', p(3, 60));
      c.now += 1000;
      await s.fail('k', p(3, 60));
      c.now += 1000;
      assert.equal(await s.retryAfter('k', p(3, 60)), 0, 'two failures: still allowed');
      assert.equal(await s.remaining('k', p(3, 60)), 1);
      await s.fail('k', p(3, 60));
      assert.equal(await s.retryAfter('k', p(3, 60)), 58);
      assert.equal(await s.remaining('k', p(3, 60)), 0);
      c.now = T0 + 59_500;
      assert.equal(await s.retryAfter('k', p(3, 60)), 1);
      assert.equal(await s.retryAfter('other', p(3, 60)), 0, 'other keys unaffected');
      assert.equal(await s.remaining('other', p(3, 60)), 3);
    });

    test('unblocks after the window; a fresh window starts with the next failure', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      await s.fail('k', p(2, 10));
      c.now += 1;
      await s.fail('k', p(2, 10));
      c.now = T0 + 9_999;
      assert.ok((await s.retryAfter('k', p(2, 10))) > 0);
      c.now = T0 + 10_000;
      assert.equal(await s.retryAfter('k', p(2, 10)), 0);
      c.now = T0 + 10_001;
      await s.fail('k', p(2, 10));
      assert.equal(await s.retryAfter('k', p(2, 10)), 0);
      await s.fail('k', p(2, 10));
      assert.ok((await s.retryAfter('k', p(2, 10))) > 0);
    });

    test('failures spread over more than a window do not add up', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      await s.fail('k', p(2, 10));
      c.now += 10_000;
      await s.fail('k', p(2, 10));
      c.now += 1;
      assert.equal(await s.retryAfter('k', p(2, 10)), 0);
    });

    test('succeed() forgets the failures', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      await s.fail('k', p(2, 60));
      await s.succeed('k');
      await s.fail('k', p(2, 60));
      assert.equal(await s.retryAfter('k', p(2, 60)), 0);
      await s.fail('k', p(2, 60));
      assert.ok((await s.retryAfter('k', p(2, 60))) > 0);
      await s.succeed('k');
      assert.equal(await s.retryAfter('k', p(2, 60)), 0);
    });

    test('the policy of each call applies to the counts kept (a reload changed the limits)', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      await s.fail('k', p(2, 60));
      await s.fail('k', p(2, 60));
      assert.ok((await s.retryAfter('k', p(2, 60))) > 0);
      assert.equal(await s.retryAfter('k', p(5, 60)), 0, 'a raised max leaves room');
      assert.equal(await s.remaining('k', p(5, 60)), 3);
      c.now += 11_000;
      assert.equal(await s.retryAfter('k', p(2, 10)), 0, 'a shortened window has ended');
    });

    test('concurrent failures are all counted', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      await Promise.all(Array.from({ length: 20 }, () => s.fail('k', p(100, 60))));
      assert.equal(await s.remaining('k', p(100, 60)), 80);
    });

    test('check(), where the store has it, agrees with retryAfter and counts the failures', async (t) => {
      const c = clock();
      const s = make({ now: c.fn });
      if (!s.check) return t.skip('no check()');
      assert.deepEqual(await s.check('k', p(2, 60)), { retryAfter: 0, failures: 0 });
      await s.fail('k', p(2, 60));
      assert.deepEqual(await s.check('k', p(2, 60)), { retryAfter: 0, failures: 1 });
      await s.fail('k', p(2, 60));
      c.now += 1000;
      assert.deepEqual(await s.check('k', p(2, 60)), {
        retryAfter: await s.retryAfter('k', p(2, 60)),
        failures: 2,
      });
      assert.ok((await s.check('k', p(2, 60))).retryAfter > 0);
    });

    test('acquire(), where the store has it: the first slot always, then only while failures are left', async (t) => {
      const c = clock();
      const s = make({ now: c.fn });
      if (!s.acquire || !s.release) return t.skip('no shared slots');
      const pol = p(2, 60);
      assert.equal(await s.acquire('k', pol), true, 'the first check always runs');
      assert.equal(await s.acquire('k', pol), true, 'two failures left: a second one too');
      assert.equal(await s.acquire('k', pol), false, 'not a third at once');
      assert.equal(await s.acquire('other', pol), true, 'other keys have their own slots');
      await s.release('k');
      await s.fail('k', pol);
      assert.equal(await s.acquire('k', pol), false, 'one failure left and one check running');
      await s.release('k');
      assert.equal(await s.acquire('k', pol), true, 'none running: the first always runs');
      await s.release('k');
      await s.release('other');
    });
  });
}

export function revocationStoreContract(name: string, make: (s: StoreSetup) => RevocationStore): void {
  describe(`RevocationStore contract: ${name}`, () => {
    const sec = (ms: number) => Math.floor(ms / 1000);
    const q = (o: Partial<{ jti: string; account: string; provider: string; issuedAt: number }>) => ({
      jti: undefined,
      account: 'alice',
      provider: 'static',
      issuedAt: sec(T0) - 10,
      ...o,
    });

    test('by jti: that token only, until it expires', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      await s.revoke({ jti: 'j1', expiresAt: sec(T0) + 60 });
      assert.equal(await s.isRevoked(q({ jti: 'j1' })), true);
      assert.equal(await s.isRevoked(q({ jti: 'j2' })), false);
      assert.equal(await s.isRevoked(q({})), false, 'a token without jti');
    });

    test('by account (and provider): tokens issued at or before `before`', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      const before = sec(T0);
      await s.revoke({ account: 'alice', provider: 'static', before, expiresAt: before + 3600 });
      assert.equal(await s.isRevoked(q({ issuedAt: before - 100 })), true);
      assert.equal(await s.isRevoked(q({ issuedAt: before })), true);
      assert.equal(await s.isRevoked(q({ issuedAt: before + 1 })), false, 'issued after: valid');
      assert.equal(await s.isRevoked(q({ account: 'bob' })), false);
      assert.equal(await s.isRevoked(q({ provider: 'github' })), false, 'same name, other provider');
      await s.revoke({ account: 'carol', before, expiresAt: before + 3600 });
      assert.equal(await s.isRevoked(q({ account: 'carol', provider: 'github' })), true, 'any provider');
    });

    test('by provider: every account of it', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      const before = sec(T0);
      await s.revoke({ provider: 'github', before, expiresAt: before + 3600 });
      assert.equal(await s.isRevoked(q({ provider: 'github', account: 'acme/app' })), true);
      assert.equal(await s.isRevoked(q({ provider: 'github', issuedAt: before + 1 })), false);
      assert.equal(await s.isRevoked(q({ provider: 'static' })), false);
    });

    test('a later revocation extends an earlier one, never shortens it', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      const t = sec(T0);
      await s.revoke({ provider: 'github', before: t, expiresAt: t + 3600 });
      await s.revoke({ provider: 'github', before: t - 500, expiresAt: t + 60 });
      assert.equal(await s.isRevoked(q({ provider: 'github', issuedAt: t - 1 })), true);
      c.now += 120_000;
      assert.equal(await s.isRevoked(q({ provider: 'github', issuedAt: t - 1 })), true);
    });

    test('entries are forgotten after expiresAt; a revocation already expired is a no-op', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      await s.revoke({ jti: 'j1', expiresAt: sec(T0) + 60 });
      await s.revoke({ jti: 'old', expiresAt: sec(T0) - 1 });
      assert.equal(await s.isRevoked(q({ jti: 'old' })), false);
      c.now += 61_000;
      assert.equal(await s.isRevoked(q({ jti: 'j1' })), false);
    });

    test('full: refuses a new revocation rather than forget a live one', async () => {
      const c = clock();
      const s = make({ now: c.fn, capacity: 3 });
      for (const j of ['a', 'b', 'c']) await s.revoke({ jti: j, expiresAt: sec(T0) + 60 });
      await assert.rejects(s.revoke({ jti: 'd', expiresAt: sec(T0) + 60 }), { code: 'UNAVAILABLE' });
      for (const j of ['a', 'b', 'c']) assert.equal(await s.isRevoked(q({ jti: j })), true, j);
      c.now += 61_000;
      await s.revoke({ jti: 'd', expiresAt: sec(c.now) + 60 });
      assert.equal(await s.isRevoked(q({ jti: 'd' })), true, 'room again once entries expired');
    });
  });
}

export function replayStoreContract(name: string, make: (s: StoreSetup) => ReplayStore): void {
  describe(`ReplayStore contract: ${name}`, () => {
    const sec = (ms: number) => Math.floor(ms / 1000);

    test('first use true, every later use false, until expiry', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      assert.equal(await s.firstUse('a', sec(T0) + 60), true);
      assert.equal(await s.firstUse('a', sec(T0) + 60), false);
      assert.equal(await s.firstUse('b', sec(T0) + 60), true, 'other keys unaffected');
      c.now += 61_000;
      assert.equal(await s.firstUse('a', sec(c.now) + 60), true, 'forgotten after expiry');
    });

    test('concurrent first uses: exactly one wins', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      const r = await Promise.all(Array.from({ length: 10 }, () => s.firstUse('x', sec(T0) + 60)));
      assert.equal(r.filter(Boolean).length, 1);
    });

    test('full: fails closed (throws) rather than forget a live entry', async () => {
      const c = clock();
      const s = make({ now: c.fn, capacity: 2 });
      await s.firstUse('a', sec(T0) + 60);
      await s.firstUse('b', sec(T0) + 60);
      await assert.rejects(s.firstUse('c', sec(T0) + 60), { code: 'UNAVAILABLE' });
      assert.equal(await s.firstUse('a', sec(T0) + 60), false, 'a is still remembered');
    });
  });
}

export function loginCacheStoreContract(name: string, make: (s: StoreSetup) => LoginCacheStore): void {
  describe(`LoginCacheStore contract: ${name}`, () => {
    test('remembers until expiresAt, then forgets', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      assert.equal(await s.expiresAt('id'), undefined);
      await s.remember('id', T0 + 60_000);
      assert.equal(await s.expiresAt('id'), T0 + 60_000);
      assert.equal(await s.expiresAt('other'), undefined);
      c.now = T0 + 60_000;
      assert.equal(await s.expiresAt('id'), undefined);
    });

    test('remember again renews', async () => {
      const c = clock();
      const s = make({ now: c.fn });
      await s.remember('id', T0 + 10_000);
      await s.remember('id', T0 + 70_000);
      c.now = T0 + 30_000;
      assert.equal(await s.expiresAt('id'), T0 + 70_000);
    });

    test('bounded: beyond its capacity the oldest entries go', async () => {
      const c = clock();
      const s = make({ now: c.fn, capacity: 3 });
      for (const id of ['a', 'b', 'c', 'd']) await s.remember(id, T0 + 60_000);
      assert.equal(await s.expiresAt('a'), undefined);
      for (const id of ['b', 'c', 'd']) assert.equal(await s.expiresAt(id), T0 + 60_000, id);
    });
  });
}
