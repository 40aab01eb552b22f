import { randomBytes } from 'node:crypto';
import type { Secret } from '../core/secret.js';
import { type LoginCacheStore, MemoryLoginCacheStore } from '../state/login-cache.js';
import { CacheDigest } from '../util/cache-digest.js';
import { andThen, type MaybePromise } from '../util/maybe-promise.js';
import type { Credentials } from './authenticator.js';

/** `refresh`: still good, and close enough to expiry that one check should renew it. */
export type LoginCacheState = 'hit' | 'refresh' | 'miss';

export interface LoginCacheOptions {
  /** Where entries are kept; default one in this process. */
  store?: LoginCacheStore;
  /**
   * Keys the entry ids. Replicas sharing a store need the same one (Purser derives it from
   * the signing key); default random, for this process only.
   */
  secret?: Buffer;
}

/**
 * Remembers successful password checks for a short time so that a client that asks for a
 * token per layer does not pay bcrypt every time. Entries are keyed by a keyed digest of the
 * user, the password and the stored hash: the password is never kept, and a changed hash
 * misses the cache. The store bounds entries and bytes.
 * The end of an entry's life is its refresh window (a fifth of it, at least 5 s, at most
 * half): it still answers, and the caller renews it in the background, so a busy login
 * never sees its entry expire, even when the renewing bcrypt waits behind others.
 */
export class LoginCache {
  readonly #digest: CacheDigest;
  readonly #store: LoginCacheStore;
  readonly #ttlMs: number;
  readonly #refreshMs: number;

  constructor(ttlSeconds: number, options: LoginCacheOptions = {}) {
    this.#digest = new CacheDigest(options.secret ?? randomBytes(32));
    this.#store = options.store ?? new MemoryLoginCacheStore();
    this.#ttlMs = ttlSeconds * 1000;
    this.#refreshMs = Math.min(this.#ttlMs / 2, Math.max(this.#ttlMs / 5, 5000));
  }

  /** The keyed hash a credential is known by (also the single-flight key for its check). */
  id(user: string, password: string, stored: string): string {
    return this.#digest.of('login', user, password, stored);
  }

  readonly #ids = new WeakMap<
    Credentials,
    { stored: string; username: string; password: Secret; id: string }
  >();

  /**
   * The id of a request's credentials, computed once per request (an authenticator's
   * verified() and then its authenticate() ask) by keeping it with the Credentials object for
   * as long as that lives. Only for the very same username, Secret (a Secret cannot change)
   * and stored value: an object a caller reuses with another password is hashed again.
   */
  idOf(credentials: Credentials, stored: string): string {
    const { username, password } = credentials;
    const known = this.#ids.get(credentials);
    if (known && known.stored === stored && known.username === username && known.password === password)
      return known.id;
    const id = this.id(username, password.reveal(), stored);
    this.#ids.set(credentials, { stored, username, password, id });
    return id;
  }

  /** At once when the store answers at once (the memory store), else a promise. */
  state(id: string, now = Date.now()): MaybePromise<LoginCacheState> {
    if (this.#ttlMs === 0) return 'miss';
    return andThen(this.#store.expiresAt(id), (until): LoginCacheState => {
      if (until === undefined || until <= now) return 'miss';
      return until - now <= this.#refreshMs ? 'refresh' : 'hit';
    });
  }

  async remember(id: string, now = Date.now()): Promise<void> {
    if (this.#ttlMs === 0) return;
    await this.#store.remember(id, now + this.#ttlMs);
  }

  async has(user: string, password: string, stored: string, now = Date.now()): Promise<boolean> {
    return (await this.state(this.id(user, password, stored), now)) !== 'miss';
  }

  async add(user: string, password: string, stored: string, now = Date.now()): Promise<void> {
    await this.remember(this.id(user, password, stored), now);
  }
}
