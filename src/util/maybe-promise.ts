/**
 * A value now or a promise of one. The token path's seams (stores, authenticators,
 * authorizers) may answer either way: a memory store or a login-cache hit answers at once,
 * and a request whose every answer is at hand is served without a single microtask.
 *
 * Why it matters: each `async` function call and each `await` allocates (a promise, a
 * suspended frame, a reaction: ~0.3 KB together), and a cached static login went through
 * some fifteen of them. Over HTTP, where every request starts with cold caches, that chain
 * cost more CPU than the ACL, the login cache and the token's claims together
 * (bench/README.md, fourth scale-out stop).
 */
export type MaybePromise<T> = T | PromiseLike<T>;

/** True for anything with a `then` method, not only native promises (a library's thenable). */
export function isThenable<T>(v: MaybePromise<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * `f(v)` now when `v` is a value, else once it resolves (a rejection passes through). `f`'s
 * own throw is thrown to the caller in the first case and rejects in the second: callers
 * that must always answer with a promise use {@link settle}.
 */
export function andThen<T, U>(v: MaybePromise<T>, f: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return isThenable(v) ? Promise.resolve(v).then(f) : f(v);
}

/** A MaybePromise computation as a promise: a value resolves, a synchronous throw rejects. */
export function settle<T>(compute: () => MaybePromise<T>): Promise<T> {
  try {
    return Promise.resolve(compute());
  } catch (e) {
    return Promise.reject(e);
  }
}
