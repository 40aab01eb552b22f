import type { AppState } from '../server/app.js';

/** How long close() waits for requests in flight before closing their state anyway. */
const DRAIN_TIMEOUT_MS = 10_000;

interface Generation {
  state: AppState;
  /** Requests and issue() calls that started on this state and have not finished. */
  inflight: number;
  drained: (() => void) | undefined;
}

/**
 * Owns the current compiled state. A request takes the state current when it starts and
 * keeps it to the end; a reload swaps in a new one atomically and closes the old one once
 * the last request on it has finished.
 */
export class Runtime {
  #current: Generation;
  #generation = 1;
  #closed = false;
  /** States replaced or closed, until their last request ends and they are closed. */
  readonly #retiring = new Map<Generation, Promise<void>>();
  readonly #onSwap: ((state: AppState) => void) | undefined;
  readonly #listeners = new Set<(state: AppState, generation: number) => void>();

  constructor(state: AppState, onSwap?: (state: AppState) => void) {
    this.#current = { state, inflight: 0, drained: undefined };
    this.#onSwap = onSwap;
  }

  /** Ready once built, not after close(). */
  get ready(): boolean {
    return !this.#closed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Counts up on every successful reload. */
  get generation(): number {
    return this.#generation;
  }

  get state(): AppState {
    return this.#current.state;
  }

  /**
   * Calls `listener` after every swap with the new state and its generation (the proxy
   * rebuilds what it derives from the state, instead of polling). Returns the unsubscribe.
   */
  onGeneration(listener: (state: AppState, generation: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Marks work as started on the current state; call the returned function when it ends. */
  enter(): () => void {
    const g = this.#current;
    g.inflight++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      g.inflight--;
      if (g.inflight === 0) g.drained?.();
    };
  }

  /** Runs `fn` on the current state, which stays open until `fn` settles. */
  async run<T>(fn: (state: AppState) => Promise<T>): Promise<T> {
    const leave = this.enter();
    try {
      return await fn(this.#current.state);
    } finally {
      leave();
    }
  }

  /** Swaps in a state already built and validated; the old one closes after its last request. */
  swap(state: AppState): void {
    if (this.#closed) throw new Error('the runtime is closed');
    const old = this.#current;
    this.#current = { state, inflight: 0, drained: undefined };
    this.#generation++;
    this.#onSwap?.(state);
    for (const l of this.#listeners) l(state, this.#generation);
    void this.#retire(old);
  }

  /** Stops being ready, waits for the requests in flight (bounded), closes every state. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    void this.#retire(this.#current);
    const all = Promise.all(this.#retiring.values());
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), DRAIN_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    // Requests still running after the grace period lose their state's connections.
    if (late) for (const g of this.#retiring.keys()) g.drained?.();
    await all;
  }

  #retire(g: Generation): Promise<void> {
    const drained =
      g.inflight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            g.drained = resolve;
          });
    const done = drained
      .then(() => closeState(g.state))
      // Closing an idle agent has nothing to report that anyone could act on.
      .catch(() => {})
      .finally(() => this.#retiring.delete(g));
    this.#retiring.set(g, done);
    return done;
  }
}

/**
 * Closes what a state opened: the webhooks' and identity providers' HTTP agents and timers, except the
 * providers a newer state carried over unchanged (their key sets live on there).
 */
export async function closeState(state: AppState): Promise<void> {
  await Promise.all([
    ...state.providers.list.filter((p) => !state.handedOver.has(p)).map((p) => p.close()),
    ...state.webhooks.map((w) => w.close()),
  ]);
  await state.ldap?.close();
}
