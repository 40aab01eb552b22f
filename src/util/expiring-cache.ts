export interface ExpiringCacheOptions<V> {
  /** Most bytes the entries may take (as `sizeOf` counts them); default 32 MiB. */
  maxBytes?: number;
  /**
   * Bytes one entry costs. The default counts the key as UTF-16 and a string value likewise,
   * any other value as 64 bytes: pass a real estimate for values whose size callers choose.
   */
  sizeOf?: (key: string, value: V) => number;
}

// What a Map entry and its record cost beyond the key and value themselves (measured
// roughly with --expose-gc on Node 20: ~100 bytes per entry).
const ENTRY_OVERHEAD = 100;
// Expired entries looked at (oldest first) per `set`: enough to keep up with a cache whose
// entries share one lifetime, cheap enough to do on every write.
const SWEEP_PER_SET = 4;

function defaultSize(key: string, value: unknown): number {
  return 2 * key.length + (typeof value === 'string' ? 2 * value.length : 64);
}

/**
 * A map whose entries expire, bounded both in entries and in bytes: when either is full, the
 * oldest entries (Map iteration is insertion order; a rewrite moves a key to the end) make
 * room, and every write also drops the oldest entries that have expired. Used for every
 * short-lived cache Purser keeps, so that no request-driven cache can grow without bound.
 */
export class ExpiringCache<V> {
  readonly #m = new Map<string, { value: V; until: number; bytes: number }>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #sizeOf: (key: string, value: V) => number;
  #bytes = 0;

  constructor(maxEntries: number, options: ExpiringCacheOptions<V> = {}) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.#sizeOf = options.sizeOf ?? defaultSize;
  }

  get size(): number {
    return this.#m.size;
  }

  /** Bytes the entries take, as counted against `maxBytes`. */
  get bytes(): number {
    return this.#bytes;
  }

  get(key: string, now = Date.now()): V | undefined {
    const e = this.#m.get(key);
    if (!e) return undefined;
    if (e.until <= now) {
      this.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** When `key`'s entry expires (epoch ms), or undefined when there is no live entry. */
  expiresAt(key: string, now = Date.now()): number | undefined {
    const e = this.#m.get(key);
    if (!e) return undefined;
    if (e.until <= now) {
      this.delete(key);
      return undefined;
    }
    return e.until;
  }

  /**
   * Stores `value` until the epoch-milliseconds time `until`. An entry bigger than the whole
   * byte budget is not stored.
   */
  set(key: string, value: V, until: number, now = Date.now()): void {
    this.delete(key);
    this.#sweep(now, SWEEP_PER_SET);
    const bytes = ENTRY_OVERHEAD + this.#sizeOf(key, value);
    if (bytes > this.#maxBytes || this.#maxEntries <= 0) return;
    while (this.#m.size > 0 && (this.#m.size >= this.#maxEntries || this.#bytes + bytes > this.#maxBytes)) {
      const oldest = this.#m.keys().next().value as string;
      this.delete(oldest);
    }
    this.#m.set(key, { value, until, bytes });
    this.#bytes += bytes;
  }

  delete(key: string): void {
    const e = this.#m.get(key);
    if (!e) return;
    this.#m.delete(key);
    this.#bytes -= e.bytes;
  }

  /** Drops every expired entry (entries with other lifetimes are otherwise dropped lazily). */
  sweep(now = Date.now()): void {
    for (const [k, e] of this.#m) if (e.until <= now) this.delete(k);
  }

  /** Drops expired entries from the oldest end, looking at most at `limit` of them. */
  #sweep(now: number, limit: number): void {
    for (const [k, e] of this.#m) {
      if (limit-- <= 0 || e.until > now) return;
      this.delete(k);
    }
  }
}
