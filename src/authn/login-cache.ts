import { randomBytes } from 'node:crypto';
import { ExpiringCache } from '../util/expiring-cache.js';
import { keyedDigest } from '../util/keyed-digest.js';

/** `refresh`: still good, and close enough to expiry that one check should renew it. */
export type LoginCacheState = 'hit' | 'refresh' | 'miss';

/**
 * Remembers successful password checks for a short time so that a client that asks for a
 * token per layer does not pay bcrypt every time. Entries are keyed by an HMAC (with a key
 * that lives only in this process) of the user, the password and the stored hash: the
 * password is never kept, and a changed hash misses the cache. Bounded in entries and bytes.
 * The end of an entry's life is its refresh window (a fifth of it, at least 5 s, at most
 * half): it still answers, and the caller renews it in the background, so a busy login
 * never sees its entry expire, even when the renewing bcrypt waits behind others.
 */
export class LoginCache {
  readonly #key = randomBytes(32);
  readonly #entries: ExpiringCache<true>;
  readonly #ttlMs: number;
  readonly #refreshMs: number;

  constructor(ttlSeconds: number, max = 10_000) {
    this.#ttlMs = ttlSeconds * 1000;
    this.#refreshMs = Math.min(this.#ttlMs / 2, Math.max(this.#ttlMs / 5, 5000));
    this.#entries = new ExpiringCache(max, { sizeOf: (k) => 2 * k.length });
  }

  /** The keyed hash a credential is known by (also the single-flight key for its check). */
  id(user: string, password: string, stored: string): string {
    return keyedDigest(this.#key, user, password, stored);
  }

  state(id: string, now = Date.now()): LoginCacheState {
    if (this.#ttlMs === 0) return 'miss';
    const until = this.#entries.expiresAt(id, now);
    if (until === undefined) return 'miss';
    return until - now <= this.#refreshMs ? 'refresh' : 'hit';
  }

  remember(id: string, now = Date.now()): void {
    if (this.#ttlMs === 0) return;
    this.#entries.set(id, true, now + this.#ttlMs, now);
  }

  has(user: string, password: string, stored: string, now = Date.now()): boolean {
    return this.state(this.id(user, password, stored), now) !== 'miss';
  }

  add(user: string, password: string, stored: string, now = Date.now()): void {
    this.remember(this.id(user, password, stored), now);
  }
}
