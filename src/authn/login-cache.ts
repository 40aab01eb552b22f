import { createHmac, randomBytes } from 'node:crypto';
import { ExpiringCache } from '../util/expiring-cache.js';

/**
 * Remembers successful password checks for a short time so that a client that asks for a
 * token per layer does not pay bcrypt every time. Entries are keyed by an HMAC (with a key
 * that lives only in this process) of the user, the password and the stored hash: the
 * password is never kept, and a changed hash misses the cache. Bounded in size.
 */
export class LoginCache {
  readonly #key = randomBytes(32);
  readonly #entries: ExpiringCache<true>;
  readonly #ttlMs: number;

  constructor(ttlSeconds: number, max = 10_000) {
    this.#ttlMs = ttlSeconds * 1000;
    this.#entries = new ExpiringCache(max);
  }

  #id(user: string, password: string, stored: string): string {
    return createHmac('sha256', this.#key)
      .update(user)
      .update('\0')
      .update(password)
      .update('\0')
      .update(stored)
      .digest('base64');
  }

  has(user: string, password: string, stored: string, now = Date.now()): boolean {
    if (this.#ttlMs === 0) return false;
    return this.#entries.get(this.#id(user, password, stored), now) === true;
  }

  add(user: string, password: string, stored: string, now = Date.now()): void {
    if (this.#ttlMs === 0) return;
    this.#entries.set(this.#id(user, password, stored), true, now + this.#ttlMs);
  }
}
