// A pure function's results remembered for short keys, in a map that never exceeds its bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shortMemo } from '../../../src/util/short-memo.js';

test('shortMemo: short keys computed once, long keys every time, at most maxEntries kept', () => {
  const calls: string[] = [];
  const f = shortMemo(
    (k) => {
      calls.push(k);
      return `d(${k})`;
    },
    4,
    3,
  );
  assert.equal(f('ab'), 'd(ab)');
  assert.equal(f('ab'), 'd(ab)');
  assert.deepEqual(calls, ['ab']);
  assert.equal(f('abcde'), 'd(abcde)');
  assert.equal(f('abcde'), 'd(abcde)');
  assert.deepEqual(calls, ['ab', 'abcde', 'abcde']);
  // Full at three: the fourth clears the map, so the first is computed again.
  f('b');
  f('c');
  f('d');
  calls.length = 0;
  f('ab');
  f('d');
  assert.deepEqual(calls, ['ab']);
});
