/**
 * Counts failed logins per key (client address + username) in a fixed window. Bounded: at
 * most `maxKeys` keys are tracked; the oldest are forgotten first.
 */
export class FailedLoginLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(max: number, windowSeconds: number, maxKeys = 50_000) {
    this.#max = max;
    this.#windowMs = windowSeconds * 1000;
    this.#maxKeys = maxKeys;
  }

  /** Seconds until this key may try again, or 0 when it may try now. */
  retryAfter(key: string, now = Date.now()): number {
    const w = this.#windows.get(key);
    if (!w) return 0;
    if (now - w.start >= this.#windowMs) {
      this.#windows.delete(key);
      return 0;
    }
    return w.count >= this.#max ? Math.ceil((w.start + this.#windowMs - now) / 1000) : 0;
  }

  /** Failed logins this key may still make in the current window. */
  remaining(key: string, now = Date.now()): number {
    const w = this.#windows.get(key);
    if (!w || now - w.start >= this.#windowMs) return this.#max;
    return Math.max(0, this.#max - w.count);
  }

  fail(key: string, now = Date.now()): void {
    const w = this.#windows.get(key);
    if (w && now - w.start < this.#windowMs) {
      w.count++;
      return;
    }
    if (w) this.#windows.delete(key);
    if (this.#windows.size >= this.#maxKeys) {
      const oldest = this.#windows.keys().next().value;
      if (oldest !== undefined) this.#windows.delete(oldest);
    }
    this.#windows.set(key, { start: now, count: 1 });
  }

  succeed(key: string): void {
    this.#windows.delete(key);
  }
}
