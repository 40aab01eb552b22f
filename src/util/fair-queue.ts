import { PurserError } from '../core/errors.js';

/**
 * Runs at most `limit` tasks at once; waiting tasks are served round-robin across their
 * keys (client addresses), so one address's flood waits behind itself, not in front of
 * everyone else. Bounded: past `maxWaiting` queued tasks, new ones are refused (503).
 */
export class FairQueue {
  readonly #limit: number;
  readonly #maxWaiting: number;
  #active = 0;
  #waiting = 0;
  // Map order is the round-robin order: a served key with more waiters moves to the end.
  readonly #queues = new Map<string, (() => void)[]>();

  constructor(limit: number, maxWaiting = 4096) {
    this.#limit = Math.max(1, limit);
    this.#maxWaiting = maxWaiting;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting;
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) await this.#enqueue(key);
    else this.#active++;
    try {
      return await task();
    } finally {
      this.#next();
    }
  }

  #enqueue(key: string): Promise<void> {
    if (this.#waiting >= this.#maxWaiting) {
      return Promise.reject(
        new PurserError('UNAVAILABLE', 'too many password checks waiting; try again shortly'),
      );
    }
    this.#waiting++;
    return new Promise((resolve) => {
      const q = this.#queues.get(key);
      if (q) q.push(resolve);
      else this.#queues.set(key, [resolve]);
    });
  }

  /** Hands the finished task's slot to the next key's oldest waiter (the slot stays taken). */
  #next(): void {
    const first = this.#queues.entries().next();
    if (first.done) {
      this.#active--;
      return;
    }
    const [key, q] = first.value;
    const resolve = q.shift()!;
    this.#queues.delete(key);
    if (q.length > 0) this.#queues.set(key, q);
    this.#waiting--;
    resolve();
  }
}
