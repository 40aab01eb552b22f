import { storeKey } from './store-key.js';
import type { ThrottlePolicy, ThrottleStore } from './throttle.js';

/**
 * The login-check slots of every worker, kept by their primary next to the shared throttle
 * store: at most as many checks of one key run at once, across all workers, as the key has
 * failures left (the first always runs), so spreading a burst of guesses over workers wins no
 * attempt. Slots are held per owner (a worker), so a worker that dies gives its slots back.
 */
export class ThrottleSlots {
  readonly #store: ThrottleStore;
  readonly #maxKeys: number;
  /** storeKey → slots taken, by all owners. */
  readonly #active = new Map<string, number>();
  /** owner → storeKey → slots it holds. */
  readonly #owners = new Map<number, Map<string, number>>();

  constructor(store: ThrottleStore, options: { maxKeys?: number } = {}) {
    this.#store = store;
    // Keys with a check running: bounded by the connections of all workers anyway.
    this.#maxKeys = options.maxKeys ?? 50_000;
  }

  /** Keys with a slot taken. */
  get size(): number {
    return this.#active.size;
  }

  async acquire(owner: number, key: string, policy: ThrottlePolicy): Promise<boolean> {
    const k = storeKey(key);
    if ((this.#active.get(k) ?? 0) > 0) {
      const remaining = await this.#store.remaining(key, policy);
      // Read again after the store answered: another owner may have taken one meanwhile.
      const active = this.#active.get(k) ?? 0;
      if (active > 0 && active >= remaining) return false;
    } else if (this.#active.size >= this.#maxKeys) return false;
    this.#active.set(k, (this.#active.get(k) ?? 0) + 1);
    const mine = this.#owners.get(owner) ?? new Map<string, number>();
    this.#owners.set(owner, mine);
    mine.set(k, (mine.get(k) ?? 0) + 1);
    return true;
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
  }
}
