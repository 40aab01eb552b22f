import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExpiringCache } from '../../../src/util/expiring-cache.js';

const T = 1_700_000_000_000;

describe('ExpiringCache', () => {
  test('bounded by entries: the oldest goes first; a rewrite counts as new', () => {
    const c = new ExpiringCache<number>(2);
    c.set('a', 1, T + 10, T);
    c.set('b', 2, T + 10, T);
    c.set('a', 3, T + 10, T);
    c.set('c', 4, T + 10, T);
    assert.equal(c.get('b', T), undefined, 'b was the oldest after a was rewritten');
    assert.equal(c.get('a', T), 3);
    assert.equal(c.get('c', T), 4);
  });

  test('bounded by bytes as counted by sizeOf; an entry over the whole budget is not kept', () => {
    const c = new ExpiringCache<string>(1000, { maxBytes: 10_000, sizeOf: (_k, v) => v.length });
    for (let i = 0; i < 100; i++) c.set(`k${i}`, 'x'.repeat(1000), T + 10, T);
    assert.ok(c.bytes <= 10_000, `${c.bytes} bytes`);
    assert.ok(c.size < 10, `${c.size} entries of ~1100 bytes in 10,000`);
    assert.equal(c.get('k99', T)?.length, 1000, 'the newest is kept');
    c.set('huge', 'x'.repeat(20_000), T + 10, T);
    assert.equal(c.get('huge', T), undefined);
    assert.ok(c.bytes <= 10_000);
  });

  test('writes sweep expired entries without anyone reading them', () => {
    const c = new ExpiringCache<number>(100_000);
    for (let i = 0; i < 1000; i++) c.set(`old${i}`, i, T + 1000, T);
    for (let i = 0; i < 1000; i++) c.set(`new${i}`, i, T + 5000, T + 2000);
    assert.equal(c.size, 1000, 'the expired thousand are gone');
    c.sweep(T + 6000);
    assert.equal(c.size, 0);
    assert.equal(c.bytes, 0);
  });

  test('expiresAt and delete', () => {
    const c = new ExpiringCache<number>(10);
    c.set('a', 1, T + 10, T);
    assert.equal(c.expiresAt('a', T), T + 10);
    assert.equal(c.expiresAt('a', T + 10), undefined);
    assert.equal(c.size, 0, 'an expired entry is dropped when looked at');
    c.set('b', 1, T + 10, T);
    c.delete('b');
    assert.equal(c.get('b', T), undefined);
    assert.equal(c.bytes, 0);
  });
});
