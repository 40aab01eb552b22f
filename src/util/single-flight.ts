/**
 * One call in flight per key: callers that ask for a key already being computed share its
 * promise. Entries live only while their call runs, so the map holds at most as many keys
 * as there are calls running.
 */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>();

  get size(): number {
    return this.#inFlight.size;
  }

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running) return running;
    const p = fn().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }
}
