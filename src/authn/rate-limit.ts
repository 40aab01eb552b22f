import { randomBytes } from 'node:crypto';
import { ExpiringCache } from '../util/expiring-cache.js';
import { keyedDigest } from '../util/keyed-digest.js';

interface Window {
  start: number;
  count: number;
}

/**
 * Counts failed logins per key (client address + username) in a fixed window. Keys are
 * stored as a keyed hash (fixed size, whatever username a caller sends), a window is
 * forgotten when it ends, and at most `maxKeys` windows are kept (the oldest are forgotten
 * first): memory stays a few MiB however many distinct names are tried.
 */
export class FailedLoginLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #windows: ExpiringCache<Window>;
  // Per instance: the digests never leave this process. A store shared between replicas
  // would need a key they share.
  readonly #key = randomBytes(32);

  constructor(max: number, windowSeconds: number, maxKeys = 50_000) {
    this.#max = max;
    this.#windowMs = windowSeconds * 1000;
    // A digest (22 chars) and a two-number record.
    this.#windows = new ExpiringCache(maxKeys, { sizeOf: (k) => 2 * k.length + 48 });
  }

  /** Windows currently tracked. */
  get size(): number {
    return this.#windows.size;
  }

  #id(key: string): string {
    return keyedDigest(this.#key, key);
  }

  /** Seconds until this key may try again, or 0 when it may try now. */
  retryAfter(key: string, now = Date.now()): number {
    const w = this.#windows.get(this.#id(key), now);
    if (!w) return 0;
    return w.count >= this.#max ? Math.ceil((w.start + this.#windowMs - now) / 1000) : 0;
  }

  /** Failed logins this key may still make in the current window. */
  remaining(key: string, now = Date.now()): number {
    const w = this.#windows.get(this.#id(key), now);
    return w ? Math.max(0, this.#max - w.count) : this.#max;
  }

  fail(key: string, now = Date.now()): void {
    const id = this.#id(key);
    const w = this.#windows.get(id, now);
    if (w) {
      w.count++;
      return;
    }
    this.#windows.set(id, { start: now, count: 1 }, now + this.#windowMs, now);
  }

  succeed(key: string): void {
    this.#windows.delete(this.#id(key));
  }
}
