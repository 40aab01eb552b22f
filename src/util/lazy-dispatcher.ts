import type { Dispatcher } from 'undici';

/**
 * An undici agent made at its first use: undici is loaded then, not at start-up. It is
 * about 10 MiB of every process that loads it, and most servers never make an outbound
 * request from it (a config without OIDC issuers, webhooks or a proxy). `close()` closes
 * the agent when one was made.
 */
export interface LazyDispatcher {
  get(): Promise<Dispatcher>;
  close(): Promise<void>;
}

/** A LazyDispatcher over `make`, called once, at the first get(). */
export function lazyDispatcher(make: (undici: typeof import('undici')) => Dispatcher): LazyDispatcher {
  let made: Promise<Dispatcher> | undefined;
  return {
    get: () => {
      made ??= import('undici').then(make);
      return made;
    },
    close: async () => {
      if (made) await (await made).close();
    },
  };
}
