import { storeKey } from './store-key.js';
import type { ThrottlePolicy, ThrottleStore } from './throttle.js';

/**
 * The login-check slots of every worker, kept by their primary next to the shared throttle
 * store: at most as many checks of one key run at once, across all workers, as the key has
 * failures left (the first always runs), so spreading a burst of guesses over workers wins no
 * attempt. Slots are held per owner (a worker), so a worker that dies gives its slots back.
 *
 * A full key's acquire waits (up to `waitMs`) for one of its slots to be given back, and
 * answers then: a burst of right passwords (docker pulling layers in parallel, each asking
 * for a token) goes through as fast as the checks end, instead of each waiter polling the
 * primary on a back-off (which put a p99 of ~100 ms and a max over 1 s on cached logins).
 */
export class ThrottleSlots {
  readonly #store: ThrottleStore;
  readonly #maxKeys: number;
  /** storeKey → slots taken, by all owners. */
  readonly #active = new Map<string, number>();
  /** owner → storeKey → slots it holds. */
  readonly #owners = new Map<number, Map<string, number>>();

  readonly #waitMs: number;
  readonly #maxWaiters: number;
  /** storeKey → wake-ups of the acquires waiting for one of its slots. */
  readonly #waiters = new Map<string, Array<() => void>>();
  #waiting = 0;

  constructor(
    store: ThrottleStore,
    options: { maxKeys?: number; waitMs?: number; maxWaiters?: number } = {},
  ) {
    this.#store = store;
    // Keys with a check running: bounded by the connections of all workers anyway.
    this.#maxKeys = options.maxKeys ?? 50_000;
    // Well inside the IPC request timeout (2 s): a false answer comes back, never a timeout.
    this.#waitMs = options.waitMs ?? 250;
    // Each waiter is one request of a worker held open: as bounded as the keys.
    this.#maxWaiters = options.maxWaiters ?? 50_000;
  }

  /** Keys with a slot taken. */
  get size(): number {
    return this.#active.size;
  }

  /**
   * Takes a slot of `key` for `owner`: true when taken (at once or after a wait for one given
   * back), false when none came free within the wait (the caller asks again later).
   */
  async acquire(owner: number, key: string, policy: ThrottlePolicy): Promise<boolean> {
    const k = storeKey(key);
    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      const got = await this.#take(owner, k, key, policy);
      if (got !== 'busy') return got === 'taken';
      const left = deadline - Date.now();
      if (left <= 0 || this.#waiting >= this.#maxWaiters) return false;
      await this.#released(k, left);
    }
  }

  /** Resolves when a slot of `k` is given back, or after `ms`. */
  #released(k: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const list = this.#waiters.get(k) ?? [];
      this.#waiters.set(k, list);
      this.#waiting++;
      const wake = () => {
        clearTimeout(timer);
        this.#waiting--;
        const i = list.indexOf(wake);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0 && this.#waiters.get(k) === list) this.#waiters.delete(k);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      list.push(wake);
    });
  }

  /** 'taken'; 'busy': as many checks of the key run as it has failures left; 'full': too many keys. */
  async #take(
    owner: number,
    k: string,
    key: string,
    policy: ThrottlePolicy,
  ): Promise<'taken' | 'busy' | 'full'> {
    if ((this.#active.get(k) ?? 0) > 0) {
      const remaining = await this.#store.remaining(key, policy);
      // Read again after the store answered: another owner may have taken one meanwhile.
      const active = this.#active.get(k) ?? 0;
      if (active > 0 && active >= remaining) return 'busy';
    } else if (this.#active.size >= this.#maxKeys) return 'full';
    this.#active.set(k, (this.#active.get(k) ?? 0) + 1);
    const mine = this.#owners.get(owner) ?? new Map<string, number>();
    this.#owners.set(owner, mine);
    mine.set(k, (mine.get(k) ?? 0) + 1);
    return 'taken';
  }

  release(owner: number, key: string): void {
    this.#give(owner, storeKey(key), 1);
  }

  /** Gives back every slot `owner` holds (it exited). */
  releaseAll(owner: number): void {
    const mine = this.#owners.get(owner);
    if (!mine) return;
    for (const [k, n] of [...mine]) this.#give(owner, k, n);
    this.#owners.delete(owner);
  }

  #give(owner: number, k: string, n: number): void {
    const mine = this.#owners.get(owner);
    const held = mine?.get(k) ?? 0;
    if (!mine || held === 0) return;
    const by = Math.min(n, held);
    if (held - by === 0) mine.delete(k);
    else mine.set(k, held - by);
    if (mine.size === 0) this.#owners.delete(owner);
    const left = (this.#active.get(k) ?? 0) - by;
    if (left <= 0) this.#active.delete(k);
    else this.#active.set(k, left);
    // Every waiter of the key tries again (each re-checks the capacity, which may have shrunk).
    const waiting = this.#waiters.get(k);
    if (waiting) for (const wake of [...waiting]) wake();
  }
}
