import { createHash } from 'node:crypto';
import { type Dispatcher, Pool } from 'undici';

/** Seconds a client refused by the per-account upload cap is told to wait. */
export const UPLOAD_RETRY_AFTER = 2;

export interface CapacityOptions {
  /** Upstream connections for reads (GET, HEAD, DELETE). */
  readConnections: number;
  /** Upstream connections for requests with a body (POST, PUT, PATCH). */
  uploadConnections: number;
  /** Uploads one account may have in flight. */
  uploadsPerAccount: number;
  ca?: string | undefined;
}

const isUpload = (method: string): boolean => method === 'POST' || method === 'PUT' || method === 'PATCH';

// Accounts can be long (a claim); the counter keys stay small.
const accountKey = (account: string): string =>
  account.length <= 128 ? account : `sha256:${createHash('sha256').update(account).digest('base64url')}`;

/**
 * The proxy's upstream capacity, split so uploads cannot starve anything else (issue 8,
 * hole 4): uploads can take minutes and a slow client holds its upstream connection for all
 * of them, so they get their own pool and a per-account cap, and reads (pulls) keep theirs.
 * undici queues requests beyond a pool's connections; the queue is bounded by the listener's
 * maxConnections (one request in flight per client connection).
 */
export class UpstreamCapacity {
  readonly #reads: Pool;
  readonly #uploads: Pool;
  readonly #perAccount: number;
  // Entries only while an account has uploads in flight: bounded by the client connections.
  readonly #inFlight = new Map<string, number>();
  #total = 0;

  constructor(origin: string, o: CapacityOptions) {
    const common = { pipelining: 1, keepAliveTimeout: 30_000, ...(o.ca ? { connect: { ca: o.ca } } : {}) };
    this.#reads = new Pool(origin, { ...common, connections: o.readConnections });
    this.#uploads = new Pool(origin, { ...common, connections: o.uploadConnections });
    this.#perAccount = o.uploadsPerAccount;
  }

  /** The pool a request with this method goes through. */
  poolFor(method: string): Dispatcher {
    return isUpload(method) ? this.#uploads : this.#reads;
  }

  /**
   * Admits a request of `account`: a release function to call once when it is over (reads get
   * a no-op), or undefined when the account already has its cap of uploads in flight.
   */
  admit(method: string, account: string): (() => void) | undefined {
    if (!isUpload(method)) return () => {};
    const key = accountKey(account);
    const n = this.#inFlight.get(key) ?? 0;
    if (n >= this.#perAccount) return undefined;
    this.#inFlight.set(key, n + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#inFlight.get(key) ?? 1) - 1;
      if (left <= 0) this.#inFlight.delete(key);
      else this.#inFlight.set(key, left);
    };
  }

  /** Uploads in flight, all accounts. */
  get uploadsInFlight(): number {
    return this.#total;
  }

  async close(): Promise<void> {
    await Promise.all([this.#reads.close(), this.#uploads.close()]);
  }
}
