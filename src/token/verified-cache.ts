import { randomBytes } from 'node:crypto';
import { CacheDigest } from '../util/cache-digest.js';
import { ExpiringCache } from '../util/expiring-cache.js';
import type { VerifiedAccessToken } from './verify-access.js';

/**
 * Access tokens already verified, until they expire: kept under a keyed hash of the token
 * (22 characters, not the ~47 KB a token with 64 long scopes is), and bounded in bytes as
 * well as entries, counting each token's access list.
 */
export class VerifiedTokenCache {
  readonly #digest = new CacheDigest(randomBytes(32));
  readonly #cache: ExpiringCache<VerifiedAccessToken>;

  constructor(maxEntries = 10_000, maxBytes = 16 * 1024 * 1024) {
    this.#cache = new ExpiringCache(maxEntries, {
      maxBytes,
      sizeOf: (k, v) =>
        2 * (k.length + v.sub.length + JSON.stringify(v.access).length) +
        (v.identity ? 2 * JSON.stringify(v.identity).length : 0) +
        64,
    });
  }

  get size(): number {
    return this.#cache.size;
  }

  get bytes(): number {
    return this.#cache.bytes;
  }

  get(token: string, now = Date.now()): VerifiedAccessToken | undefined {
    return this.#cache.get(this.#digest.of(token), now);
  }

  /** Remembers `v` for `token` until the epoch-ms time `until`. */
  set(token: string, v: VerifiedAccessToken, until: number, now = Date.now()): void {
    this.#cache.set(this.#digest.of(token), v, until, now);
  }
}
