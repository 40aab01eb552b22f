import { ExpiringCache } from '../util/expiring-cache.js';
import type { MaybePromise } from '../util/maybe-promise.js';
import { storeKey } from './store-key.js';

/** The failed-login limit in force: at most `max` failures per key in a `windowSeconds` window. */
export interface ThrottlePolicy {
  max: number;
  windowSeconds: number;
}

/**
 * Failed-login counts per key, in a fixed window that starts at a key's first failure.
 * Keys are keyed hashes (22 characters) computed by Purser; the policy comes with every
 * call, so a reload that changes the limits applies them to the counts already kept.
 * Implementations may be shared by replicas (Redis): `fail` must count atomically.
 */
export interface ThrottleStore {
  /** Seconds until `key` may try again (its window is full), or 0 when it may try now. */
  retryAfter(key: string, policy: ThrottlePolicy): Promise<number>;
  /** Failed logins `key` may still make in its current window. */
  remaining(key: string, policy: ThrottlePolicy): Promise<number>;
  /** Counts one failure (starting a window when there is none). */
  fail(key: string, policy: ThrottlePolicy): Promise<void>;
  /** A success: forgets the key's failures. */
  succeed(key: string): Promise<void>;
  /**
   * Optional: `retryAfter` and the failures counted, in one call. With it a successful login
   * (nearly every request) asks the store once: `succeed` only runs when there is something
   * to forget. A store that knows at once may answer without a promise.
   */
  check?(key: string, policy: ThrottlePolicy): MaybePromise<ThrottleCheck>;
  /**
   * For a store that processes share (the workers' store in their primary): takes one of
   * `key`'s check slots across all of them, granted while none is taken or fewer are than the
   * failures left; false: ask again shortly. Without it each process gates its own checks.
   */
  acquire?(key: string, policy: ThrottlePolicy): Promise<boolean>;
  /** Gives back a slot `acquire` granted. */
  release?(key: string): Promise<void>;
}

/** What `check` answers. */
export interface ThrottleCheck {
  retryAfter: number;
  failures: number;
}

/**
 * `store.check`, or for a store without it `retryAfter` with the failures unknown: counted
 * as one, so that a success always forgets them.
 */
export function checkThrottle(
  store: ThrottleStore,
  key: string,
  policy: ThrottlePolicy,
): MaybePromise<ThrottleCheck> {
  return store.check
    ? store.check(key, policy)
    : store.retryAfter(key, policy).then((retryAfter) => ({ retryAfter, failures: 1 }));
}

interface Window {
  start: number;
  count: number;
}

/**
 * The default ThrottleStore, in this process. A window is forgotten when it ends and at most
 * `maxKeys` are kept (the oldest go first): memory stays a few MiB however many distinct
 * names are tried.
 */
export class MemoryThrottleStore implements ThrottleStore {
  readonly #windows: ExpiringCache<Window>;
  readonly #now: () => number;

  constructor(options: { maxKeys?: number; now?: () => number } = {}) {
    // A 22-character key and a two-number record.
    this.#windows = new ExpiringCache(options.maxKeys ?? 50_000, { sizeOf: (k) => 2 * k.length + 48 });
    this.#now = options.now ?? Date.now;
  }

  /** Windows currently tracked. */
  get size(): number {
    return this.#windows.size;
  }

  #live(key: string, policy: ThrottlePolicy, now: number): Window | undefined {
    const w = this.#windows.get(storeKey(key), now);
    // A window shortened by a reload ends at its new length.
    return w && w.start + policy.windowSeconds * 1000 > now ? w : undefined;
  }

  async retryAfter(key: string, policy: ThrottlePolicy): Promise<number> {
    const now = this.#now();
    const w = this.#live(key, policy, now);
    if (!w || w.count < policy.max) return 0;
    return Math.ceil((w.start + policy.windowSeconds * 1000 - now) / 1000);
  }

  check(key: string, policy: ThrottlePolicy): ThrottleCheck {
    const now = this.#now();
    const w = this.#live(key, policy, now);
    if (!w) return { retryAfter: 0, failures: 0 };
    const retryAfter =
      w.count < policy.max ? 0 : Math.ceil((w.start + policy.windowSeconds * 1000 - now) / 1000);
    return { retryAfter, failures: w.count };
  }

  async remaining(key: string, policy: ThrottlePolicy): Promise<number> {
    const w = this.#live(key, policy, this.#now());
    return w ? Math.max(0, policy.max - w.count) : policy.max;
  }

  async fail(key: string, policy: ThrottlePolicy): Promise<void> {
    const now = this.#now();
    const w = this.#live(key, policy, now);
    if (w) {
      w.count++;
      return;
    }
    this.#windows.set(storeKey(key), { start: now, count: 1 }, now + policy.windowSeconds * 1000, now);
  }

  async succeed(key: string): Promise<void> {
    this.#windows.delete(storeKey(key));
  }
}
