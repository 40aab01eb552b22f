import type { Revocation, RevocationQuery, RevocationStore } from './revocation.js';
import { checkThrottle, type ThrottleCheck, type ThrottlePolicy, type ThrottleStore } from './throttle.js';

/** Told of every store error a policy absorbed (fail open): for a log line and a counter. */
export type StoreErrorSink = (store: 'throttle' | 'revocation', error: Error) => void;

/**
 * Rate limits that fail open: while the store cannot answer, every key may try (as if it
 * had no failures) and failures go uncounted. Logins keep working through a Redis outage;
 * the sink makes the lost protection visible.
 */
export class FailOpenThrottleStore implements ThrottleStore {
  readonly #inner: ThrottleStore;
  readonly #sink: StoreErrorSink;

  constructor(inner: ThrottleStore, sink: StoreErrorSink) {
    this.#inner = inner;
    this.#sink = sink;
  }

  async #or<T>(run: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await run();
    } catch (e) {
      this.#sink('throttle', e as Error);
      return fallback;
    }
  }

  retryAfter(key: string, policy: ThrottlePolicy): Promise<number> {
    return this.#or(() => this.#inner.retryAfter(key, policy), 0);
  }
  remaining(key: string, policy: ThrottlePolicy): Promise<number> {
    return this.#or(() => this.#inner.remaining(key, policy), policy.max);
  }
  fail(key: string, policy: ThrottlePolicy): Promise<void> {
    return this.#or(() => this.#inner.fail(key, policy), undefined);
  }
  succeed(key: string): Promise<void> {
    return this.#or(() => this.#inner.succeed(key), undefined);
  }
  check(key: string, policy: ThrottlePolicy): Promise<ThrottleCheck> {
    // Fails open as retryAfter does; failures 1 so a success still tries to forget any.
    return this.#or(async () => checkThrottle(this.#inner, key, policy), { retryAfter: 0, failures: 1 });
  }
  // Slots across replicas fail open too: with the store down every check runs (and is not
  // counted), as the outage policy says.
  acquire(key: string, policy: ThrottlePolicy): Promise<boolean> {
    const inner = this.#inner;
    return inner.acquire ? this.#or(() => inner.acquire!(key, policy), true) : Promise.resolve(true);
  }
  release(key: string): Promise<void> {
    const inner = this.#inner;
    return inner.release ? this.#or(() => inner.release!(key), undefined) : Promise.resolve();
  }
}

/**
 * Revocation checks that fail open (`redis.onError.revocation: open`): a token is taken as
 * not revoked while the store cannot answer. Writing a revocation still fails loudly.
 */
export class FailOpenRevocationStore implements RevocationStore {
  readonly #inner: RevocationStore;
  readonly #sink: StoreErrorSink;

  constructor(inner: RevocationStore, sink: StoreErrorSink) {
    this.#inner = inner;
    this.#sink = sink;
  }

  revoke(r: Revocation): Promise<void> {
    return this.#inner.revoke(r);
  }

  async isRevoked(q: RevocationQuery): Promise<boolean> {
    try {
      return await this.#inner.isRevoked(q);
    } catch (e) {
      this.#sink('revocation', e as Error);
      return false;
    }
  }
}
