import { hash } from 'node:crypto';
import { lengthPrefixed } from './keyed-digest.js';

/**
 * A keyed 128-bit digest for lookups inside Purser's own caches (the login cache, verified
 * JWTs, webhook answers): SHA-512/256 over the key and the length-prefixed parts, in one
 * call. A cached static login computes one per request, and Node's HMAC object costs twice
 * what a one-shot hash does (about 30,000 against 14,000 instructions for a login's parts).
 *
 * Secret-prefix keying is sound here because SHA-512/256 is a truncated hash: its output
 * does not carry the internal state, so it cannot be extended to the digest of a longer
 * message (the weakness that makes key-prefixed SHA-256 unfit and HMAC necessary). The key
 * is random or derived, at least 256 bits.
 *
 * Not for anything kept across versions or checked outside Purser (refresh-token
 * fingerprints, lockout counters shared by replicas): those stay on {@link keyedDigest},
 * whose construction is fixed. An id that changes between versions only misses a cache.
 */
export class CacheDigest {
  readonly #prefix: string;

  /** `key`: at least 32 bytes. */
  constructor(key: Buffer) {
    if (key.length < 32) throw new RangeError('a cache digest key needs at least 32 bytes');
    // As base64 text: the hashed input is one string, and its prefix of fixed length.
    this.#prefix = `${key.toString('base64')}:`;
  }

  /** 22 base64url characters (128 bits) for `parts`. */
  of(...parts: string[]): string {
    return hash('sha512-256', this.#prefix + lengthPrefixed(parts), 'base64url').slice(0, 22);
  }
}
