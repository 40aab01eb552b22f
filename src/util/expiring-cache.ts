/**
 * A map whose entries expire, bounded in size: when full, the oldest entry (Map iteration is
 * insertion order) makes room. Used for every short-lived cache Purser keeps, so that no
 * request-driven cache can grow without bound.
 */
export class ExpiringCache<V> {
  readonly #m = new Map<string, { value: V; until: number }>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#m.size;
  }

  get(key: string, now = Date.now()): V | undefined {
    const e = this.#m.get(key);
    if (!e) return undefined;
    if (e.until <= now) {
      this.#m.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Stores `value` until the epoch-milliseconds time `until`. */
  set(key: string, value: V, until: number): void {
    if (!this.#m.has(key) && this.#m.size >= this.#max) {
      const oldest = this.#m.keys().next().value;
      if (oldest !== undefined) this.#m.delete(oldest);
    }
    this.#m.set(key, { value, until });
  }
}
