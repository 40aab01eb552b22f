import { randomBytes } from 'node:crypto';
import {
  type Authenticator,
  type AuthnContext,
  type AuthnResult,
  type Credentials,
  userThrottleKey,
} from '../authn/authenticator.js';
import { imitateDefaultCheck } from '../authn/password-checks.js';
import type { Authorizer, DecidingAuthorizer, ScopeDecision } from '../authz/authorizer.js';
import { clampedAuthorizer } from '../authz/clamp.js';
import { tokenLifetime } from '../authz/lifetime.js';
import { PurserError, TooManyAttempts } from '../core/errors.js';
import { ANONYMOUS, type Identity } from '../core/identity.js';
import { isZotCatalogScope, type Scope } from '../protocol/scope.js';
import type { TokenRequest } from '../protocol/token-request.js';
import type { RevocationStore } from '../state/revocation.js';
import {
  checkThrottle,
  MemoryThrottleStore,
  type ThrottlePolicy,
  type ThrottleStore,
} from '../state/throttle.js';
import { ThrottleSlots } from '../state/throttle-slots.js';
import { fingerprintKey } from '../token/fingerprint-key.js';
import type { KeyRing } from '../token/keyring.js';
import { identityClaims } from '../token/proxy-identity.js';
import { issueRefreshToken, refreshTokenSigner, verifyRefreshToken } from '../token/refresh.js';
import { isoTimeMemo } from '../util/iso-time.js';
import { keyedDigest } from '../util/keyed-digest.js';
import { andThen, isThenable, type MaybePromise, settle } from '../util/maybe-promise.js';
import { shortMemo } from '../util/short-memo.js';

// Every token of one second has the same `issued_at` (its iat): formatted once per second.
const issuedAtText = isoTimeMemo();

/** How soon a login refused a check slot asks again (backing off to the max). */
const SLOT_POLL_MS = 10;
const SLOT_POLL_MAX_MS = 200;

export interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
}

export interface TokenOutcome {
  response: TokenResponse;
  identity: Identity;
  service: string;
  decisions: ScopeDecision[];
  /** The access token's `jti`, for the audit log. */
  jti: string;
}

export interface TokenServiceOptions {
  issuer: string;
  services: readonly string[];
  keyring: KeyRing;
  /** Asked in order; the first that claims the credentials decides. */
  authenticators: readonly Authenticator[];
  authorizer: Authorizer;
  anonymous: boolean;
  /** The failed-login counts; default in this process. */
  throttle?: ThrottleStore;
  throttlePolicy: ThrottlePolicy;
  /**
   * Keys the throttle's digests. Replicas sharing a throttle store need the same one (Purser
   * derives it from the signing key); default random, for this process only.
   */
  throttleSecret?: Buffer;
  /** Checked at every refresh grant. */
  revocation?: RevocationStore;
  /** Waits as long as a failed password check, for credentials no authenticator claims. */
  imitateCheck?: () => Promise<void>;
  onFailedLogin?: (kind: string) => void;
  /** Accept Zot's empty-name catalog scope `repository::pull` (token.compat: zot). */
  zotCatalogScope?: boolean;
  /** The proxy's service: its tokens carry the caller's identity where the proxy needs it (token/proxy-identity.ts). */
  proxyService?: string | undefined;
}

/** What a token request's login tells the authenticators besides the credentials. */
type LoginRequest = Pick<AuthnContext, 'service' | 'scopes'>;

/** An identity and the authenticator that vouched for it (null: nobody, the anonymous caller). */
interface Established {
  identity: Identity;
  by: Authenticator | null;
}

/**
 * The protocol-independent heart: request in, signed token out. It only orchestrates: what
 * a credential counts under, how long a refresh token lives, what it binds and how an
 * identity is restored from one are the authenticators' answers.
 */
export class TokenService {
  readonly #o: TokenServiceOptions;
  readonly #authorizer: DecidingAuthorizer;
  readonly #throttle: ThrottleStore;
  readonly #throttleDigest: (raw: string) => string;
  /**
   * The check slots: the store's own when it has them (a store shared by workers or replicas
   * gates across all of them), else this process's, kept by the same ThrottleSlots a
   * primary keeps for its workers.
   */
  readonly #gate: { acquire(key: string): Promise<boolean>; release(key: string): Promise<void> };
  constructor(options: TokenServiceOptions) {
    this.#o = options;
    // Clamped here too, for a TokenService built without buildApp (idempotent).
    this.#authorizer = clampedAuthorizer(options.authorizer);
    const throttle: ThrottleStore = options.throttle ?? new MemoryThrottleStore();
    this.#throttle = throttle;
    // The same caller logs in again and again (a token per layer): short keys' digests are
    // remembered.
    const secret = options.throttleSecret ?? randomBytes(32);
    this.#throttleDigest = shortMemo((raw) => keyedDigest(secret, 'throttle', raw), 256);
    const policy = options.throttlePolicy;
    if (throttle.acquire && throttle.release) {
      const { acquire, release } = throttle;
      this.#gate = {
        acquire: (key) => acquire.call(throttle, key, policy),
        release: (key) => release.call(throttle, key),
      };
    } else {
      const slots = new ThrottleSlots(throttle);
      this.#gate = {
        acquire: (key) => slots.acquire(0, key, policy),
        release: async (key) => slots.release(0, key),
      };
    }
  }

  /**
   * What the limiter counts an attempt under: the first authenticator's throttleKey that
   * answers, else address and username. A keyed hash, so a key is 22 characters whatever
   * the caller sent (Basic headers may be 64 KiB), for the store and the slots alike.
   */
  #throttleKey(credentials: Credentials, ip: string): string {
    let key: string | undefined;
    for (const a of this.#o.authenticators) {
      key = a.throttleKey?.(credentials, ip);
      if (key !== undefined) break;
    }
    return this.#throttleDigest(key ?? userThrottleKey(ip, credentials.username));
  }

  /**
   * Authenticates credentials against the chain: the first authenticator that claims them decides.
   * At most as many checks for one throttle key run at once as that key has failed
   * attempts left: a burst of guesses cannot all be in flight before the first failures are
   * counted, while a burst of correct requests (docker pulling layers in parallel) runs
   * side by side and then hits the login cache.
   */
  authenticate(credentials: Credentials, ip: string, trace?: string[]): Promise<Identity> {
    return settle(() => andThen(this.#authenticate(credentials, ip, trace), (e) => e.identity));
  }

  /**
   * Written so that a login every seam answers at once (a login-cache hit, a memory
   * throttle) runs without a promise (util/maybe-promise.ts); any seam may still answer
   * with one.
   */
  #authenticate(
    credentials: Credentials,
    ip: string,
    trace?: string[],
    request?: LoginRequest,
  ): MaybePromise<Established> {
    const limitKey = this.#throttleKey(credentials, ip);
    // Credentials an authenticator has just verified are no guess: no slot to wait for.
    return andThen(this.#verified(credentials), (verified) =>
      verified
        ? this.#authenticateNow(credentials, ip, limitKey, trace, request)
        : this.#authenticateInTurn(credentials, ip, limitKey, trace, request),
    );
  }

  async #authenticateInTurn(
    credentials: Credentials,
    ip: string,
    limitKey: string,
    trace?: string[],
    request?: LoginRequest,
  ): Promise<Established> {
    await this.#acquire(limitKey);
    try {
      return await this.#authenticateNow(credentials, ip, limitKey, trace, request);
    } finally {
      this.#release(limitKey);
    }
  }

  /** Whether an authenticator (from the `from`th on) vouches for the credentials (verified()). */
  #verified(credentials: Credentials, from = 0): MaybePromise<boolean> {
    const list = this.#o.authenticators;
    for (let i = from; i < list.length; i++) {
      const a = list[i]!;
      if (!a.verified) continue;
      // A hook that fails only costs the shortcut: the login then waits for its slot.
      let v: MaybePromise<boolean>;
      try {
        v = a.verified(credentials);
      } catch {
        continue;
      }
      if (isThenable(v)) {
        const next = () => this.#verified(credentials, i + 1);
        return Promise.resolve(v).then((ok) => ok || next(), next);
      }
      if (v) return true;
    }
    return false;
  }

  /**
   * Waits for a slot. The gate waits a while itself for one given back (in this process, or
   * in the primary); a slot freed elsewhere (another replica, through Redis) sends no news
   * here, so a waiter asks again, backing off: a flood of guesses at one key must not become
   * a flood of requests to the store.
   */
  async #acquire(key: string): Promise<void> {
    for (let wait = SLOT_POLL_MS; !(await this.#gate.acquire(key)); ) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(SLOT_POLL_MAX_MS, wait * 2);
    }
  }

  #release(key: string): void {
    // Sent after the check's fail/succeed (on the same channel, for a shared store): the
    // next holder sees its count.
    this.#gate.release(key).catch(() => {});
  }

  #authenticateNow(
    credentials: Credentials,
    ip: string,
    limitKey: string,
    trace?: string[],
    request?: LoginRequest,
  ): MaybePromise<Established> {
    const policy = this.#o.throttlePolicy;
    const store = this.#throttle;
    return andThen(checkThrottle(store, limitKey, policy), ({ retryAfter: wait, failures }) => {
      if (wait > 0) {
        this.#o.onFailedLogin?.('rate_limited');
        throw new TooManyAttempts(wait);
      }
      const ctx: AuthnContext = { ip, ...(trace ? { trace } : {}), ...request };
      return this.#ask(credentials, ctx, limitKey, failures, 0);
    });
  }

  /** The authenticators from the `from`th on, in order, until one claims the credentials. */
  #ask(
    credentials: Credentials,
    ctx: AuthnContext,
    limitKey: string,
    failures: number,
    from: number,
  ): MaybePromise<Established> {
    const list = this.#o.authenticators;
    for (let i = from; i < list.length; i++) {
      const a = list[i]!;
      const r = a.authenticate(credentials, ctx);
      if (isThenable(r)) {
        return Promise.resolve(r).then(
          (got) =>
            this.#answered(got, a, limitKey, failures) ??
            this.#ask(credentials, ctx, limitKey, failures, i + 1),
        );
      }
      const done = this.#answered(r, a, limitKey, failures);
      if (done !== undefined) return done;
    }
    return this.#unknown(limitKey);
  }

  /** What an authenticator's answer settles: undefined for no-match (ask the next one). */
  #answered(
    r: AuthnResult,
    a: Authenticator,
    limitKey: string,
    failures: number,
  ): MaybePromise<Established> | undefined {
    if (r.outcome === 'no-match') return undefined;
    if (r.outcome === 'authenticated') {
      const established: Established = { identity: r.identity, by: a };
      return failures > 0 ? this.#throttle.succeed(limitKey).then(() => established) : established;
    }
    return this.#throttle.fail(limitKey, this.#o.throttlePolicy).then(() => {
      this.#o.onFailedLogin?.(a.kind);
      throw new PurserError('UNAUTHORIZED', r.reason);
    });
  }

  /** Credentials no authenticator claims. */
  async #unknown(limitKey: string): Promise<never> {
    // As long as a wrong password takes, without spending a bcrypt (see PasswordChecks).
    await (this.#o.imitateCheck ?? imitateDefaultCheck)();
    await this.#throttle.fail(limitKey, this.#o.throttlePolicy);
    this.#o.onFailedLogin?.('unknown');
    throw new PurserError('UNAUTHORIZED', 'invalid username or password');
  }

  /**
   * The identity a refresh token stands for, as its authenticator restores it now. Tokens
   * from before refresh tokens named their authenticator are offered to each in turn.
   */
  async #fromRefreshToken(token: string): Promise<Established> {
    const c = await verifyRefreshToken(this.#o.keyring, this.#o.issuer, token);
    if (
      this.#o.revocation &&
      (await this.#o.revocation.isRevoked({ jti: c.jti, account: c.sub, provider: c.prv, issuedAt: c.iat }))
    ) {
      throw new PurserError('UNAUTHORIZED', 'refresh token revoked: log in again');
    }
    const saved: Identity = { account: c.sub, provider: c.prv, labels: c.lbl ?? {}, claims: c.clm ?? {} };
    const candidates =
      c.ath === undefined ? this.#o.authenticators : this.#o.authenticators.filter((a) => a.kind === c.ath);
    for (const a of candidates) {
      if (!a.restore) continue;
      const r = await a.restore(saved);
      if (r.outcome === 'no-match') continue;
      if (r.outcome === 'rejected') throw new PurserError('UNAUTHORIZED', r.reason);
      // Computed again with the key that signed the token (so a key rotation keeps it valid).
      const signer = refreshTokenSigner(this.#o.keyring, token);
      const binding = signer ? a.refreshBinding?.(r.identity, fingerprintKey(signer)) : undefined;
      if (binding !== c.cfp) {
        throw new PurserError(
          'UNAUTHORIZED',
          'refresh token no longer valid (the account or its password changed): log in again',
        );
      }
      if ((a.refreshLifetime?.(r.identity) ?? 0) <= 0) {
        throw new PurserError(
          'UNAUTHORIZED',
          'refresh tokens are no longer issued for this account: log in again',
        );
      }
      return { identity: r.identity, by: a };
    }
    throw new PurserError('UNAUTHORIZED', 'refresh token no longer valid: log in again');
  }

  /** Who issues a refresh token for an identity no login of this service produced (issue()). */
  #owner(identity: Identity): Authenticator | null {
    return this.#o.authenticators.find((a) => (a.refreshLifetime?.(identity) ?? 0) > 0) ?? null;
  }

  resolveService(service: string | undefined): string {
    if (service === undefined || service === '') return this.#o.services[0]!;
    if (!this.#o.services.includes(service)) {
      throw new PurserError(
        'UNKNOWN_SERVICE',
        `unknown service ${JSON.stringify(service.slice(0, 100))}: this server issues tokens for ${this.#o.services.map((s) => JSON.stringify(s)).join(', ')}`,
      );
    }
    return service;
  }

  identify(req: TokenRequest, ip: string): Promise<Identity> {
    return settle(() => andThen(this.#identify(req, ip), (e) => e.identity));
  }

  #identify(req: TokenRequest, ip: string, service?: string): MaybePromise<Established> {
    if (req.grant === 'refresh_token') return this.#fromRefreshToken(req.refreshToken!.reveal());
    if (req.credentials)
      // Two literals, not `{ ...(service ? { service } : {}), scopes }`: V8 11 gave that spread
      // a new hidden class on every call (one map transition per login, ~170 bytes of old-space
      // garbage, and slow-path property definition; `node --log-maps` showed it).
      return this.#authenticate(
        req.credentials,
        ip,
        undefined,
        service !== undefined ? { service, scopes: req.scopes } : { scopes: req.scopes },
      );
    if (!this.#o.anonymous) throw new PurserError('UNAUTHORIZED', 'authentication required');
    return { identity: ANONYMOUS, by: null };
  }

  /** Served without a microtask when every seam answers at once (util/maybe-promise.ts). */
  handle(req: TokenRequest, ip: string): Promise<TokenOutcome> {
    return settle(() => {
      const service = this.resolveService(req.service);
      // A refresh grant keeps the refresh token it came with (no rotation): docker reuses it.
      const offline = req.offline && req.grant !== 'refresh_token';
      return andThen(this.#identify(req, ip, service), ({ identity, by }) =>
        this.#grant(identity, service, req.scopes, ip, offline, by),
      );
    });
  }

  /** What the authorizer (clamped to the request) grants an identity, without signing: the proxy's check. */
  async authorize(identity: Identity, service: string, scopes: readonly Scope[], ip: string) {
    return this.#authorizer.authorize({ identity, service, scopes, ip });
  }

  /**
   * Authorises and signs for an identity already established (the token endpoint after
   * authentication, or the library's `issue()`); `offline` asks for a refresh token, which
   * `by` issues (default: the first authenticator with a refresh lifetime for the identity;
   * null: none).
   */
  grant(
    identity: Identity,
    service: string,
    scopes: readonly Scope[],
    ip: string,
    offline: boolean,
    by?: Authenticator | null,
  ): Promise<TokenOutcome> {
    return settle(() => this.#grant(identity, service, scopes, ip, offline, by));
  }

  #grant(
    identity: Identity,
    service: string,
    scopes: readonly Scope[],
    ip: string,
    offline: boolean,
    by?: Authenticator | null,
  ): MaybePromise<TokenOutcome> {
    if (!this.#o.zotCatalogScope && scopes.some(isZotCatalogScope))
      throw new PurserError(
        'INVALID_SCOPE',
        'invalid scope "repository::…": empty resource name (Zot asks for it for its catalog: set token.compat: zot)',
      );
    return andThen(this.#authorizer.authorize({ identity, service, scopes, ip }), (decisions) =>
      this.#sign(identity, service, decisions, offline, by),
    );
  }

  #sign(
    identity: Identity,
    service: string,
    decisions: ScopeDecision[],
    offline: boolean,
    by: Authenticator | null | undefined,
  ): TokenOutcome {
    const granted: Scope[] = [];
    for (const d of decisions) if (d.granted.length > 0) granted.push({ ...d.requested, actions: d.granted });
    const signer = this.#o.keyring.signer;
    const lifetime = tokenLifetime(decisions, signer.defaultLifetime);
    const extra = service === this.#o.proxyService ? identityClaims(identity, granted) : undefined;
    const issued = signer.issue(identity.account, service, granted, Date.now(), lifetime, extra);
    const response: TokenResponse = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issuedAtText(issued.issuedAt.getTime()),
    };
    const issuer = by === undefined ? this.#owner(identity) : by;
    const refreshLifetime = (offline && issuer?.refreshLifetime?.(identity)) || 0;
    if (issuer && refreshLifetime > 0) {
      const cfp = issuer.refreshBinding?.(identity, fingerprintKey(this.#o.keyring.signer.key));
      response.refresh_token = issueRefreshToken(
        this.#o.keyring,
        this.#o.issuer,
        identity,
        { ath: issuer.kind, ...(cfp !== undefined ? { cfp } : {}) },
        refreshLifetime,
      );
    }
    return { response, identity, service, decisions, jti: issued.claims.jti };
  }
}
