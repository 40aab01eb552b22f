// A work queue keyed by `namespace/name`: a key is handled by one worker at a time, adding a
// key already waiting keeps the earlier time, a key added while it is being handled runs once
// more after. Bounded: past `maxKeys` scheduled keys an add is refused (and counted).

export class WorkQueue {
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #ready = new Set<string>();
  readonly #running = new Set<string>();
  readonly #again = new Set<string>();
  #paused = true;
  dropped = 0;

  constructor(
    private readonly handle: (key: string) => Promise<void>,
    private readonly concurrency = 4,
    private readonly maxKeys = 100_000,
  ) {}

  /** Keys waiting or running. */
  get size(): number {
    return new Set([...this.#timers.keys(), ...this.#ready, ...this.#running]).size;
  }

  /** When `key` is next due (ms since epoch), if scheduled. */
  dueAt(key: string): number | undefined {
    return this.#ready.has(key) ? Date.now() : this.#timers.get(key)?.at;
  }

  add(key: string, delayMs = 0): void {
    if (this.#running.has(key) && delayMs <= 0) {
      this.#again.add(key);
      return;
    }
    const at = Date.now() + Math.max(0, delayMs);
    const t = this.#timers.get(key);
    if (t && t.at <= at) return;
    if (this.#ready.has(key)) return;
    if (!t && this.size >= this.maxKeys) {
      this.dropped++;
      return;
    }
    if (t) clearTimeout(t.timer);
    if (delayMs <= 0) {
      this.#timers.delete(key);
      this.#ready.add(key);
      this.#pump();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.#ready.add(key);
      this.#pump();
    }, delayMs);
    this.#timers.set(key, { at, timer });
  }

  /** Starts handing keys to workers. */
  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  /** Stops handing keys out and forgets every scheduled one (a replica that stops leading). */
  clear(): void {
    this.#paused = true;
    for (const t of this.#timers.values()) clearTimeout(t.timer);
    this.#timers.clear();
    this.#ready.clear();
    this.#again.clear();
  }

  /** Resolves when no handler is running. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await new Promise((r) => setTimeout(r, 10));
  }

  #pump(): void {
    if (this.#paused) return;
    for (const key of [...this.#ready]) {
      if (this.#running.size >= this.concurrency) return;
      if (this.#running.has(key)) continue;
      this.#ready.delete(key);
      this.#running.add(key);
      this.handle(key)
        .catch(() => {})
        .finally(() => {
          this.#running.delete(key);
          if (this.#again.delete(key)) this.add(key);
          this.#pump();
        });
    }
  }
}
