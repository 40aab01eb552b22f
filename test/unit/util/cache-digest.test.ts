import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { CacheDigest } from '../../../src/util/cache-digest.js';

describe('CacheDigest', () => {
  const key = Buffer.alloc(32, 7);

  it('is SHA-512/256 of the base64 key, a colon and the length-prefixed parts, cut to 128 bits', () => {
    const expected = createHash('sha512-256')
      .update(`${key.toString('base64')}:5:login6:ci-bot2:pw`)
      .digest('base64url')
      .slice(0, 22);
    assert.equal(new CacheDigest(key).of('login', 'ci-bot', 'pw'), expected);
  });

  it('tells apart parts that concatenate to the same text, and counts UTF-8 bytes', () => {
    const d = new CacheDigest(key);
    assert.notEqual(d.of('a\0b', 'c'), d.of('a', 'b\0c'));
    assert.notEqual(d.of('ab', 'c'), d.of('a', 'bc'));
    assert.notEqual(d.of('é'), d.of('e'));
    assert.equal(d.of('x', 'y'), d.of('x', 'y'));
  });

  it('depends on the key', () => {
    assert.notEqual(new CacheDigest(key).of('x'), new CacheDigest(Buffer.alloc(32, 8)).of('x'));
  });

  it('costs the same for a 64 KiB part: the digest has a fixed size', () => {
    assert.equal(new CacheDigest(key).of('u'.repeat(65536)).length, 22);
  });

  it('refuses a key shorter than 256 bits', () => {
    assert.throws(() => new CacheDigest(Buffer.alloc(16)), RangeError);
  });
});
