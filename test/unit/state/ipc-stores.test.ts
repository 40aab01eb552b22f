// The workers' stores over IPC (state/ipc-stores.ts): they keep the store contracts, a
// revocation or lockout written through one worker holds through another, concurrent checks
// of a key are gated across workers, and a dead worker's slots come back. The link is an
// in-process pair that serialises like node's IPC (JSON), so nothing here needs a fork.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { PurserError } from '../../../src/core/errors.js';
import { ipcStores, serveStores } from '../../../src/state/ipc-stores.js';
import { MemoryReplayStore } from '../../../src/state/replay.js';
import { MemoryRevocationStore } from '../../../src/state/revocation.js';
import { MemoryThrottleStore } from '../../../src/state/throttle.js';
import { ThrottleSlots } from '../../../src/state/throttle-slots.js';
import { IpcChannel, type IpcEndpoint } from '../../../src/util/ipc-channel.js';
import { replayStoreContract, revocationStoreContract, throttleStoreContract } from './contracts.js';

/** Two connected endpoints; `cut()` makes both sides' sends fail (a dead process). */
function link(): { a: IpcEndpoint; b: IpcEndpoint; cut: () => void } {
  const ea = new EventEmitter();
  const eb = new EventEmitter();
  let open = true;
  const side = (self: EventEmitter, other: EventEmitter): IpcEndpoint => ({
    send: (m) => {
      if (!open) return false;
      const copy = JSON.parse(JSON.stringify(m)) as unknown;
      setImmediate(() => other.emit('message', copy));
      return true;
    },
    on: (e, l) => self.on(e, l),
    off: (e, l) => self.off(e, l),
  });
  return { a: side(ea, eb), b: side(eb, ea), cut: () => (open = false) };
}

interface Host {
  throttle: MemoryThrottleStore;
  revocation: MemoryRevocationStore;
  replay: MemoryReplayStore;
  slots: ThrottleSlots;
}

function host(now: () => number = Date.now, capacity = 1000): Host {
  const throttle = new MemoryThrottleStore({ now, maxKeys: capacity });
  return {
    throttle,
    revocation: new MemoryRevocationStore({ now, maxEntries: capacity }),
    replay: new MemoryReplayStore({ now, maxEntries: capacity }),
    slots: new ThrottleSlots(throttle),
  };
}

/** A worker's stores connected to `h` as owner `owner`. */
function worker(h: Host, owner: number) {
  const l = link();
  const primarySide = new IpcChannel(l.a);
  serveStores(primarySide, owner, h, h.slots);
  const channel = new IpcChannel(l.b, { timeoutMs: 500 });
  return { stores: ipcStores(channel), channel, cut: l.cut };
}

throttleStoreContract('ipc', (s) => worker(host(s.now, s.capacity ?? 1000), 1).stores.throttle);
revocationStoreContract('ipc', (s) => worker(host(s.now, s.capacity ?? 1000), 1).stores.revocation);
replayStoreContract('ipc', (s) => worker(host(s.now, s.capacity ?? 1000), 1).stores.replay);

describe('ipc stores shared by workers', () => {
  const policy = { max: 3, windowSeconds: 60 };

  test('a refresh token revoked through one worker is refused through the other', async () => {
    const h = host();
    const [w1, w2] = [worker(h, 1), worker(h, 2)];
    const q = { jti: 'j-1', account: 'alice', provider: 'static', issuedAt: Math.floor(Date.now() / 1000) };
    assert.equal(await w2.stores.revocation.isRevoked(q), false);
    await w1.stores.revocation.revoke({ jti: 'j-1', expiresAt: q.issuedAt + 3600 });
    assert.equal(await w2.stores.revocation.isRevoked(q), true);
    await w2.stores.revocation.revoke({ account: 'bob', before: q.issuedAt, expiresAt: q.issuedAt + 3600 });
    assert.equal(await w1.stores.revocation.isRevoked({ ...q, jti: 'j-2', account: 'bob' }), true);
  });

  test('a lockout counted through one worker holds through the other', async () => {
    const h = host();
    const [w1, w2] = [worker(h, 1), worker(h, 2)];
    await w1.stores.throttle.fail('k', policy);
    await w2.stores.throttle.fail('k', policy);
    await w1.stores.throttle.fail('k', policy);
    assert.ok((await w2.stores.throttle.retryAfter('k', policy)) > 0);
  });

  test('a JWT seen through one worker is a replay through the other', async () => {
    const h = host();
    const [w1, w2] = [worker(h, 1), worker(h, 2)];
    const exp = Math.floor(Date.now() / 1000) + 60;
    assert.equal(await w1.stores.replay.firstUse('p:jti', exp), true);
    assert.equal(await w2.stores.replay.firstUse('p:jti', exp), false);
  });

  test('check slots of one key are gated across workers by the failures left', async () => {
    const h = host();
    const [w1, w2] = [worker(h, 1), worker(h, 2)];
    const t1 = w1.stores.throttle;
    const t2 = w2.stores.throttle;
    // No failures: up to max (3) at once, whichever worker asks.
    assert.equal(await t1.acquire!('k', policy), true);
    assert.equal(await t2.acquire!('k', policy), true);
    assert.equal(await t1.acquire!('k', policy), true);
    assert.equal(await t2.acquire!('k', policy), false, 'a fourth concurrent check anywhere waits');
    await t1.fail('k', policy);
    await t1.release!('k');
    // Two left in flight, two failures left: still full.
    assert.equal(await t2.acquire!('k', policy), false);
    await t2.release!('k');
    await t1.release!('k');
    // None in flight: the first always runs (it learns of the lockout itself).
    assert.equal(await t2.acquire!('k', policy), true);
    assert.equal(h.slots.size, 1);
  });

  test('an acquire of a full key waits for a slot given back, and answers false only after its wait', async () => {
    const throttle = new MemoryThrottleStore();
    const h = { ...host(), throttle, slots: new ThrottleSlots(throttle, { waitMs: 300 }) };
    const [w1, w2] = [worker(h, 1), worker(h, 2)];
    for (let i = 0; i < 3; i++) assert.equal(await w1.stores.throttle.acquire!('k', policy), true);
    // Full: the fourth waits; a slot given back 50 ms later lets it through then, not at 300 ms.
    const t0 = Date.now();
    const waiting = w2.stores.throttle.acquire!('k', policy);
    setTimeout(() => void w1.stores.throttle.release!('k'), 50);
    assert.equal(await waiting, true);
    const waited = Date.now() - t0;
    assert.ok(waited >= 45 && waited < 250, `took the slot after ${waited} ms`);
    // Full again and nothing given back: false once the wait is over.
    const t1 = Date.now();
    assert.equal(await w2.stores.throttle.acquire!('k', policy), false);
    assert.ok(Date.now() - t1 >= 290, 'answered before its wait was over');
    assert.equal(h.slots.size, 1);
  });

  test("a worker's slots come back when it dies", async () => {
    const h = host();
    const w1 = worker(h, 1);
    const w2 = worker(h, 2);
    for (let i = 0; i < 3; i++) assert.equal(await w1.stores.throttle.acquire!('k', policy), true);
    assert.equal(await w2.stores.throttle.acquire!('k', policy), false);
    w1.cut();
    h.slots.releaseAll(1);
    assert.equal(h.slots.size, 0);
    assert.equal(await w2.stores.throttle.acquire!('k', policy), true);
  });

  test('a primary that does not answer fails the call with UNAVAILABLE, never a pass', async () => {
    const h = host();
    const w = worker(h, 1);
    w.cut();
    await assert.rejects(
      w.stores.revocation.isRevoked({ jti: 'x', account: 'a', provider: 'p', issuedAt: 1 }),
      (e) => {
        assert.ok(e instanceof PurserError);
        assert.equal(e.code, 'UNAVAILABLE');
        assert.match(e.message, /^worker IPC \(store\): the channel is closed$/);
        return true;
      },
    );
  });
});

describe('IpcChannel', () => {
  test('times out a request nobody answers', async () => {
    const l = link();
    const other = new IpcChannel(l.a);
    other.handle('slow', () => new Promise(() => {}));
    const c = new IpcChannel(l.b, { timeoutMs: 50 });
    await assert.rejects(c.request('slow', null), /worker IPC \(slow\): no answer within 50 ms/);
    assert.equal(c.pending, 0);
  });

  test("a handler's PurserError crosses with its code; other errors as UNAVAILABLE", async () => {
    const l = link();
    const server = new IpcChannel(l.a);
    server.handle('denied', () => {
      throw new PurserError('UNAUTHORIZED', 'nope');
    });
    server.handle('bug', () => {
      throw new Error('boom');
    });
    const c = new IpcChannel(l.b);
    await assert.rejects(
      c.request('denied', null),
      (e) => e instanceof PurserError && e.code === 'UNAUTHORIZED',
    );
    await assert.rejects(
      c.request('bug', null),
      (e) => e instanceof PurserError && e.code === 'UNAVAILABLE' && e.message === 'worker IPC (bug): boom',
    );
  });

  test('requests awaiting an answer are bounded', async () => {
    const l = link();
    const server = new IpcChannel(l.a);
    server.handle('slow', () => new Promise(() => {}));
    const c = new IpcChannel(l.b, { maxPending: 2, timeoutMs: 100 });
    const first = [c.request('slow', null), c.request('slow', null)];
    await assert.rejects(c.request('slow', null), /too many requests in flight/);
    await Promise.allSettled(first);
  });
});
