import { ExpiringCache } from '../util/expiring-cache.js';
import type { MaybePromise } from '../util/maybe-promise.js';

/**
 * Successful password checks remembered for a while (authn/login-cache.ts decides the
 * keys, lifetimes and refresh-ahead; the store only keeps them). Ids are keyed hashes of
 * user, password and stored hash: a store never sees a password or a hash.
 */
export interface LoginCacheStore {
  /**
   * When `id`'s entry expires (epoch ms), or undefined when there is none. A store that
   * knows at once may answer without a promise (util/maybe-promise.ts).
   */
  expiresAt(id: string): MaybePromise<number | undefined>;
  /** Remembers `id` until `expiresAt` (epoch ms). */
  remember(id: string, expiresAt: number): Promise<void>;
}

/** The default LoginCacheStore, in this process, at most `maxEntries` entries. */
export class MemoryLoginCacheStore implements LoginCacheStore {
  readonly #entries: ExpiringCache<true>;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#entries = new ExpiringCache(options.maxEntries ?? 10_000, { sizeOf: (k) => 2 * k.length });
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  expiresAt(id: string): number | undefined {
    return this.#entries.expiresAt(id, this.#now());
  }

  async remember(id: string, expiresAt: number): Promise<void> {
    // Ids are fixed-size keyed hashes (authn/login-cache.ts), so entries cost the same.
    this.#entries.set(id.slice(0, 64), true, expiresAt, this.#now());
  }
}
