import { PurserError } from '../core/errors.js';
import { ExpiringCache } from '../util/expiring-cache.js';
import { storeKey } from './store-key.js';

/**
 * What to revoke. Times are epoch seconds. `expiresAt` is when the entry may be forgotten:
 * no token it covers lives longer (a refresh token's `exp`, or `before` plus the longest
 * refresh lifetime). `before` covers tokens issued at or before it.
 */
export type Revocation =
  | { jti: string; expiresAt: number }
  | { account: string; provider?: string; before: number; expiresAt: number }
  | { provider: string; before: number; expiresAt: number };

/** What a refresh grant asks the store about its token. */
export interface RevocationQuery {
  jti: string | undefined;
  account: string;
  provider: string;
  /** The token's `iat`, epoch seconds. */
  issuedAt: number;
}

/**
 * Revoked refresh tokens, checked at every refresh grant. A store shared by replicas
 * (Redis) makes a revocation hold everywhere. `revoke` must not forget an entry before its
 * `expiresAt`: a store that is full refuses the revocation instead (fail closed).
 */
export interface RevocationStore {
  revoke(revocation: Revocation): Promise<void>;
  isRevoked(query: RevocationQuery): Promise<boolean>;
}

/** The default RevocationStore, in this process, at most `maxEntries` live revocations. */
export class MemoryRevocationStore implements RevocationStore {
  // jti → 0 (any iat); account/provider → the latest `before`.
  readonly #entries: ExpiringCache<number>;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#max = options.maxEntries ?? 100_000;
    this.#entries = new ExpiringCache(this.#max, { sizeOf: (k) => 2 * k.length + 16 });
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  async revoke(r: Revocation): Promise<void> {
    const now = this.#now();
    const until = r.expiresAt * 1000;
    if (until <= now) return;
    const key = 'jti' in r ? storeKey('jti', r.jti) : keyFor(r, 'account' in r ? r.account : undefined);
    const before = 'jti' in r ? Number.POSITIVE_INFINITY : r.before;
    const old = this.#entries.get(key, now);
    const oldUntil = this.#entries.expiresAt(key, now) ?? 0;
    if (old === undefined && this.#entries.size >= this.#max) {
      this.#entries.sweep(now);
      if (this.#entries.size >= this.#max) {
        // Evicting would silently un-revoke someone else's token.
        throw new PurserError('UNAVAILABLE', `the revocation store is full (${this.#max} entries)`);
      }
    }
    this.#entries.set(key, Math.max(old ?? 0, before), Math.max(oldUntil, until), now);
  }

  async isRevoked(q: RevocationQuery): Promise<boolean> {
    const now = this.#now();
    if (q.jti !== undefined && this.#entries.get(storeKey('jti', q.jti), now) !== undefined) return true;
    for (const key of [keyFor(q, q.account), keyFor({}, q.account), keyFor(q, undefined)]) {
      const before = this.#entries.get(key, now);
      if (before !== undefined && q.issuedAt <= before) return true;
    }
    return false;
  }
}

/** The key of an account or provider revocation (shared by every store implementation). */
export function keyFor(r: { provider?: string }, account: string | undefined): string {
  return storeKey(account === undefined ? 'provider' : 'account', r.provider ?? '', account ?? '');
}
