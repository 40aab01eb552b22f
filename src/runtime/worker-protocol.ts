/**
 * What a `serve --workers N` primary and its workers say to each other (besides the shared
 * stores, state/ipc-stores.ts). Kept apart from both sides: a worker must not import the
 * primary's module, which loads the config parser and schema a worker never needs.
 */

/** The environment variable a worker learns its slot (0 … N−1) from. */
export const WORKER_SLOT_ENV = 'PURSER_WORKER_SLOT';

/** A worker's first request ('settings'): the config its primary validated, encoded (config/transfer.ts). */
export interface WorkerSettings {
  config: string;
  shutdownTimeoutMs: number;
}

/** The body of a 'reload' request to a worker: the new config the primary validated, and what asked for it. */
export interface WorkerReload {
  config: string;
  trigger: string;
}
