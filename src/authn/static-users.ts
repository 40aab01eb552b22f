import { type Identity, STATIC_PROVIDER } from '../core/identity.js';
import { type Secret, safeEqual } from '../core/secret.js';
import { type LoginCacheStore, MemoryLoginCacheStore } from '../state/login-cache.js';
import { keyedDigest } from '../util/keyed-digest.js';
import { andThen, type MaybePromise } from '../util/maybe-promise.js';
import { SingleFlight } from '../util/single-flight.js';
import {
  type Authenticator,
  type AuthnContext,
  type AuthnResult,
  type Credentials,
  userThrottleKey,
} from './authenticator.js';
import { BCRYPT_RE } from './htpasswd.js';
import { LoginCache, type LoginCacheState } from './login-cache.js';
import { type BcryptVerifier, PasswordChecks } from './password-checks.js';

/** A static user's credential, with the groups and labels its identity carries. */
export type StoredCredential = ({ hash: string } | { password: Secret }) & {
  groups?: readonly string[];
  labels?: Readonly<Record<string, string>>;
};

export interface StaticUsersOptions {
  /** Replaces the bcrypt verification (tests count calls with it). */
  verify?: BcryptVerifier;
  /** The clock, epoch ms (tests move it). */
  now?: () => number;
  /** Refresh token lifetime, seconds (`token.refreshTokenLifetime`); default 0, none. */
  refreshLifetime?: number;
  /** Where successful checks are remembered; default in this process. */
  loginCache?: LoginCacheStore;
  /** Keys the login cache's ids (shared by replicas sharing its store); default random. */
  loginCacheSecret?: Buffer;
  /** Told each login-cache lookup's result (the metrics' hit ratio). */
  onLoginCache?: (state: LoginCacheState) => void;
}

/** The most common bcrypt cost among the hashes (10 when there are none). */
function typicalCost(users: ReadonlyMap<string, StoredCredential>): number {
  const counts = new Map<number, number>();
  for (const c of users.values()) {
    if (!('hash' in c) || !BCRYPT_RE.test(c.hash)) continue;
    const cost = Number(c.hash.slice(4, 6));
    counts.set(cost, (counts.get(cost) ?? 0) + 1);
  }
  let best = 10;
  let n = 0;
  for (const [cost, k] of counts) if (k > n) [best, n] = [cost, k];
  return best;
}

/** The identity of a static user, its groups and labels as configured now. */
function staticIdentity(account: string, stored: StoredCredential): Identity {
  return {
    account,
    provider: STATIC_PROVIDER,
    labels: stored.labels ?? {},
    claims: {},
    ...(stored.groups?.length ? { groups: stored.groups } : {}),
  };
}

/** Static accounts: bcrypt hashes (inline or htpasswd) and plaintext passwords. */
export class StaticUsers implements Authenticator {
  readonly kind = 'static';
  readonly #users: ReadonlyMap<string, StoredCredential>;
  readonly #cache: LoginCache;
  readonly #checks: PasswordChecks;
  readonly #inFlight = new SingleFlight<boolean>();
  readonly #now: () => number;
  readonly #refreshLifetime: number;
  readonly #onLoginCache: (state: LoginCacheState) => void;

  constructor(
    users: ReadonlyMap<string, StoredCredential>,
    cacheSeconds: number,
    options: StaticUsersOptions = {},
  ) {
    this.#users = users;
    this.#now = options.now ?? Date.now;
    this.#cache = new LoginCache(cacheSeconds, {
      // The default store keeps time by the same clock as this authenticator.
      store: options.loginCache ?? new MemoryLoginCacheStore({ now: this.#now }),
      ...(options.loginCacheSecret ? { secret: options.loginCacheSecret } : {}),
    });
    this.#refreshLifetime = options.refreshLifetime ?? 0;
    this.#onLoginCache = options.onLoginCache ?? (() => {});
    this.#checks = new PasswordChecks(typicalCost(users), options.verify ? { verify: options.verify } : {});
  }

  has(username: string): boolean {
    return this.#users.has(username);
  }

  get size(): number {
    return this.#users.size;
  }

  /**
   * A fingerprint of the user's stored credential, bound into refresh tokens so that changing
   * a password (or removing the user) revokes them. Keyed with `secret` (derived from the
   * signing key): without it, a plaintext password cannot be guessed from a token offline.
   * Undefined when the user does not exist.
   */
  credentialFingerprint(username: string, secret: Buffer): string | undefined {
    const c = this.#users.get(username);
    if (!c) return undefined;
    const material = 'hash' in c ? `hash:${c.hash}` : `plain:${c.password.reveal()}`;
    return keyedDigest(secret, 'purser-credential', username, material);
  }

  /** A static user's name always counts per name, whatever the password looks like. */
  throttleKey(credentials: Credentials, ip: string): string | undefined {
    return this.#users.has(credentials.username) ? userThrottleKey(ip, credentials.username) : undefined;
  }

  refreshLifetime(identity: Identity): number {
    return identity.provider === STATIC_PROVIDER ? this.#refreshLifetime : 0;
  }

  /** Changing a password (or removing the user) revokes the user's refresh tokens. */
  refreshBinding(identity: Identity, secret: Buffer): string | undefined {
    return this.credentialFingerprint(identity.account, secret);
  }

  restore(saved: Identity): AuthnResult {
    if (saved.provider !== STATIC_PROVIDER) return { outcome: 'no-match' };
    if (this.#refreshLifetime === 0) {
      return {
        outcome: 'rejected',
        reason: 'refresh tokens are disabled (token.refreshTokenLifetime: 0): log in again',
      };
    }
    const stored = this.#users.get(saved.account);
    if (!stored) {
      return {
        outcome: 'rejected',
        reason: 'refresh token no longer valid (the account was removed): log in again',
      };
    }
    return { outcome: 'authenticated', identity: staticIdentity(saved.account, stored) };
  }

  /**
   * Waits as long as a failed bcrypt check takes, burning no CPU: for callers no
   * authenticator knows, so that response times do not tell which usernames exist.
   */
  imitateCheck(): Promise<void> {
    return this.#checks.imitate();
  }

  verified(credentials: Credentials): MaybePromise<boolean> {
    const stored = this.#users.get(credentials.username);
    if (!stored || !('hash' in stored)) return false; // a plaintext check is never queued long
    return andThen(
      this.#cache.state(this.#cache.idOf(credentials, stored.hash), this.#now()),
      (s) => s !== 'miss',
    );
  }

  /** At once for a login-cache hit (with the memory store) or a right plaintext password. */
  authenticate(credentials: Credentials, ctx: AuthnContext): MaybePromise<AuthnResult> {
    const stored = this.#users.get(credentials.username);
    if (!stored) return { outcome: 'no-match' };
    const answer = (ok: boolean): AuthnResult =>
      ok
        ? { outcome: 'authenticated', identity: staticIdentity(credentials.username, stored) }
        : { outcome: 'rejected', reason: 'invalid username or password' };
    if ('hash' in stored) return andThen(this.#checkHash(credentials, stored.hash, ctx.ip), answer);
    if (safeEqual(credentials.password.reveal(), stored.password.reveal())) return answer(true);
    // A plaintext comparison takes microseconds: answer a wrong one as slowly as bcrypt would.
    return this.#checks.imitate().then(() => answer(false));
  }

  /**
   * A cached success answers at once (and, near its expiry, renews its entry); otherwise one
   * bcrypt check runs per credential however many requests ask at once. The single-flight
   * key includes the password, so a wrong password never shares a right one's result.
   */
  #checkHash(credentials: Credentials, hash: string, ip: string): MaybePromise<boolean> {
    const pw = credentials.password.reveal();
    const id = this.#cache.idOf(credentials, hash);
    return andThen(this.#cache.state(id, this.#now()), (state) => {
      this.#onLoginCache(state);
      if (state === 'refresh') this.#renew(id);
      if (state !== 'miss') return true;
      return this.#check(id, pw, hash, ip);
    });
  }

  /**
   * Extends a cached success near its expiry, without bcrypt: the entry's id binds the
   * username, the password and the stored hash, and bcrypt gives the same answer for the
   * same password and hash every time, so checking again could only spend CPU (a bcrypt per
   * active credential per cache lifetime, competing with the logins it serves). A changed
   * hash is a new id and misses. One renewal in flight per entry.
   */
  #renew(id: string): void {
    void this.#inFlight
      .run(id, async () => {
        await this.#cache.remember(id, this.#now());
        return true;
      })
      .catch(() => {});
  }

  #check(id: string, pw: string, hash: string, ip: string): Promise<boolean> {
    return this.#inFlight.run(id, async () => {
      const ok = await this.#checks.verify(pw, hash, ip);
      if (ok) await this.#cache.remember(id, this.#now());
      return ok;
    });
  }
}
