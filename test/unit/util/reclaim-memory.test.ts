// After a large configuration is built, one full collection gives its parser garbage back;
// below the threshold nothing runs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { reclaimMemory } from '../../../src/util/reclaim-memory.js';

describe('reclaimMemory', () => {
  test('below the threshold it does not collect', () => {
    assert.equal(reclaimMemory(Number.MAX_SAFE_INTEGER), 0);
  });

  test('above it, the garbage of a large parse is freed', () => {
    // ~40 MiB of objects that live long enough to reach the old generation, then are dropped.
    let garbage: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({
      i,
      s: `rule-${i}-${'x'.repeat(100)}`,
    }));
    assert.equal(garbage.length, 200_000);
    garbage = undefined;
    const freed = reclaimMemory(0);
    assert.ok(freed > 10 * 1024 * 1024, `freed only ${freed} bytes`);
  });
});
