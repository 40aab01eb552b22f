// The runtime: a swapped-out state closes only after the last request that started on it,
// requests keep the state they started with, close() closes every state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closeState, Runtime } from '../../../src/runtime/runtime.js';
import type { AppState } from '../../../src/server/app.js';

/** A state whose only resource is what closeState closes; records when that happens. */
function fakeState(name: string, closed: string[]): AppState {
  return {
    realm: name,
    handedOver: new Set(),
    providers: { list: [{ close: async () => void closed.push(name) }] },
  } as unknown as AppState;
}

const tick = () => new Promise((r) => setImmediate(r));

test('a replaced state closes after its last request, not before; new work gets the new state', async () => {
  const closed: string[] = [];
  const swapped: string[] = [];
  const rt = new Runtime(fakeState('one', closed), (s) => swapped.push(s.realm));
  const leave = rt.enter();
  let release!: () => void;
  const running = rt.run(async (s) => {
    await new Promise<void>((r) => {
      release = r;
    });
    return s.realm;
  });
  rt.swap(fakeState('two', closed));
  assert.equal(rt.state.realm, 'two');
  assert.equal(rt.generation, 2);
  assert.deepEqual(swapped, ['two']);
  await tick();
  assert.deepEqual(closed, [], 'closed while two requests were still on it');
  leave();
  leave(); // leaving twice counts once
  await tick();
  assert.deepEqual(closed, []);
  release();
  assert.equal(await running, 'one', 'the request finished on the state it started with');
  await tick();
  assert.deepEqual(closed, ['one']);
  await rt.close();
  assert.deepEqual(closed, ['one', 'two']);
  assert.equal(rt.ready, false);
  assert.throws(() => rt.swap(fakeState('three', closed)));
});

test('close() also waits for states still draining from earlier swaps', async () => {
  const closed: string[] = [];
  const rt = new Runtime(fakeState('one', closed));
  const leave = rt.enter();
  rt.swap(fakeState('two', closed));
  const closing = rt.close();
  await tick();
  assert.deepEqual(closed, ['two']);
  leave();
  await closing;
  assert.deepEqual(closed.sort(), ['one', 'two']);
});

test('subscribers hear of every swap with the new state and its generation, until they unsubscribe', () => {
  const rt = new Runtime(fakeState('one', []));
  const heard: [string, number][] = [];
  const off = rt.onGeneration((s, g) => heard.push([s.realm, g]));
  rt.swap(fakeState('two', []));
  rt.swap(fakeState('three', []));
  off();
  rt.swap(fakeState('four', []));
  assert.deepEqual(heard, [
    ['two', 2],
    ['three', 3],
  ]);
});

test('closing a state leaves open the providers a newer state carried over, and closes its webhooks', async () => {
  const closed: string[] = [];
  const kept = { close: async () => void closed.push('kept') };
  const own = { close: async () => void closed.push('own') };
  const hook = { close: async () => void closed.push('webhook') };
  const state = {
    realm: 'old',
    handedOver: new Set([kept]),
    providers: { list: [kept, own] },
    webhooks: [hook],
  } as unknown as AppState;
  await closeState(state);
  assert.deepEqual(closed, ['own', 'webhook']);
});
