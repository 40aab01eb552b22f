// The pin holds a real nextTick queue entry: what keeps V8 from collecting the entries' maps
// (src/runtime/tick-map-pin.ts). If Node ever builds its entries otherwise, this says so.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pinTickObjectMap, tickObjectMapPinned } from '../../../src/runtime/tick-map-pin.js';

test('pinTickObjectMap holds a nextTick entry after the next tick, once', async () => {
  pinTickObjectMap();
  pinTickObjectMap();
  await new Promise((resolve) => process.nextTick(resolve));
  assert.equal(tickObjectMapPinned(), true);
});
