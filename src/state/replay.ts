import { PurserError } from '../core/errors.js';
import { ExpiringCache } from '../util/expiring-cache.js';
import { storeKey } from './store-key.js';

/**
 * JWTs seen, for providers with `replay: once`. `firstUse` records a key and says whether
 * this was its first use, in one step (a shared store does it atomically, like Redis
 * `SET NX`), so two replicas racing on the same token accept it once between them.
 */
export interface ReplayStore {
  /**
   * Records `key` until `expiresAt` (epoch seconds); true when it was not recorded before.
   * A store that cannot record it must throw (fail closed), never answer true.
   */
  firstUse(key: string, expiresAt: number): Promise<boolean>;
}

/** The default ReplayStore, in this process: at most `maxEntries` tokens until their expiry. */
export class MemoryReplayStore implements ReplayStore {
  readonly #seen: ExpiringCache<true>;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#max = options.maxEntries ?? 100_000;
    this.#seen = new ExpiringCache(this.#max, { sizeOf: (k) => 2 * k.length });
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#seen.size;
  }

  async firstUse(key: string, expiresAt: number): Promise<boolean> {
    const now = this.#now();
    const k = storeKey(key);
    if (this.#seen.get(k, now) !== undefined) return false;
    if (this.#seen.size >= this.#max) {
      this.#seen.sweep(now);
      // Evicting a live entry would let that token be used again.
      if (this.#seen.size >= this.#max)
        throw new PurserError('UNAVAILABLE', `the replay cache is full (${this.#max} tokens)`);
    }
    this.#seen.set(k, true, expiresAt * 1000, now);
    return true;
  }
}
