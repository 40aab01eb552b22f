import { randomBytes } from 'node:crypto';
import type { Authenticator, Credentials } from '../authn/authenticator.js';
import { ANONYMOUS, type Identity } from '../authn/identity.js';
import { looksLikeJwt } from '../authn/oidc/verify.js';
import { imitateDefaultCheck } from '../authn/password-checks.js';
import type { FailedLoginLimiter } from '../authn/rate-limit.js';
import type { StaticUsers } from '../authn/static-users.js';
import type { Authorizer, ScopeDecision } from '../authz/authorizer.js';
import { clampedAuthorizer } from '../authz/clamp.js';
import { PurserError, TooManyAttempts } from '../errors.js';
import type { Scope } from '../protocol/scope.js';
import type { TokenRequest } from '../protocol/token-request.js';
import { fingerprintKey } from '../token/fingerprint-key.js';
import type { KeyRing } from '../token/keyring.js';
import { issueRefreshToken, refreshTokenSigner, verifyRefreshToken } from '../token/refresh.js';
import { keyedDigest } from '../util/keyed-digest.js';

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
}

export interface TokenServiceOptions {
  issuer: string;
  services: readonly string[];
  keyring: KeyRing;
  authenticators: readonly Authenticator[];
  staticUsers: StaticUsers | undefined;
  authorizer: Authorizer;
  anonymous: boolean;
  limiter: FailedLoginLimiter;
  /** Refresh token lifetime for static users, seconds; 0 = none. */
  refreshLifetime: number;
  /** Refresh token lifetime per provider name (OIDC); absent or 0 = none. */
  providerRefreshLifetime?: (provider: string) => number;
  /** Re-checks an identity restored from a refresh token (OIDC providers). */
  revalidate?: (identity: Identity) => Promise<boolean> | boolean;
  onFailedLogin?: (kind: string) => void;
}

// Per process, like the limiter's counts (a limiter shared by replicas would need a shared key).
const LIMIT_KEY = randomBytes(32);

/**
 * Failed logins are counted per client address and username, except for workload JWTs: all
 * of a provider's callers share its name as username, so counting those would let anyone
 * with any refused JWT lock every CI job behind the same address out. A JWT cannot be
 * guessed; repeated refusals of the same token are still throttled. A static user's name
 * always counts per name, whatever the password looks like (JWT-shaped guesses included).
 */
function limiterKey(credentials: Credentials, ip: string, staticUsers: StaticUsers | undefined): string {
  const pw = credentials.password.reveal();
  // A keyed hash, so a key is 22 characters whatever the caller sent (Basic headers may be
  // 64 KiB), for the limiter and for the per-key slots alike.
  if (!staticUsers?.has(credentials.username) && looksLikeJwt(pw))
    return keyedDigest(LIMIT_KEY, ip, 'jwt', pw);
  return keyedDigest(LIMIT_KEY, ip, 'user', credentials.username);
}

/** The protocol-independent heart: request in, signed token out. */
export class TokenService {
  readonly #o: TokenServiceOptions;
  readonly #slots = new Map<string, { active: number; waiters: (() => void)[] }>();
  constructor(options: TokenServiceOptions) {
    this.#o = options;
  }

  /** Authenticates credentials against the chain: the first authenticator that claims them decides. */
  /**
   * At most as many checks for one (address, username) run at once as that key has failed
   * attempts left: a burst of guesses cannot all be in flight before the first failures are
   * counted, while a burst of correct requests (docker pulling layers in parallel) runs
   * side by side and then hits the login cache.
   */
  async authenticate(credentials: Credentials, ip: string, trace?: string[]): Promise<Identity> {
    const limitKey = limiterKey(credentials, ip, this.#o.staticUsers);
    // Taking a free slot is synchronous; only a key at its limit waits.
    if (!this.#tryAcquire(limitKey)) await this.#acquire(limitKey);
    try {
      return await this.#authenticateNow(credentials, ip, limitKey, trace);
    } finally {
      this.#release(limitKey);
    }
  }

  #tryAcquire(key: string): boolean {
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { active: 0, waiters: [] };
      this.#slots.set(key, slot);
    }
    if (slot.active > 0 && slot.active >= this.#o.limiter.remaining(key)) return false;
    slot.active++;
    return true;
  }

  async #acquire(key: string): Promise<void> {
    while (!this.#tryAcquire(key)) {
      const slot = this.#slots.get(key)!;
      await new Promise<void>((resolve) => slot.waiters.push(resolve));
    }
  }

  #release(key: string): void {
    const slot = this.#slots.get(key);
    if (!slot) return;
    slot.active--;
    // Wake everyone waiting: each re-checks the capacity (which may have shrunk).
    const waiters = slot.waiters.splice(0);
    for (const w of waiters) w();
    if (slot.active === 0 && slot.waiters.length === 0) this.#slots.delete(key);
  }

  async #authenticateNow(
    credentials: Credentials,
    ip: string,
    limitKey: string,
    trace?: string[],
  ): Promise<Identity> {
    const wait = this.#o.limiter.retryAfter(limitKey);
    if (wait > 0) {
      this.#o.onFailedLogin?.('rate_limited');
      throw new TooManyAttempts(wait);
    }
    for (const a of this.#o.authenticators) {
      const r = await a.authenticate(credentials, trace ? { ip, trace } : { ip });
      if (r.outcome === 'no-match') continue;
      if (r.outcome === 'authenticated') {
        this.#o.limiter.succeed(limitKey);
        return r.identity;
      }
      this.#o.limiter.fail(limitKey);
      this.#o.onFailedLogin?.(a.kind);
      throw new PurserError('UNAUTHORIZED', r.reason);
    }
    // As long as a wrong password takes, without spending a bcrypt (see PasswordChecks).
    await (this.#o.staticUsers ? this.#o.staticUsers.imitateCheck() : imitateDefaultCheck());
    this.#o.limiter.fail(limitKey);
    this.#o.onFailedLogin?.('unknown');
    throw new PurserError('UNAUTHORIZED', 'invalid username or password');
  }

  async #fromRefreshToken(token: string): Promise<Identity> {
    const c = await verifyRefreshToken(this.#o.keyring, this.#o.issuer, token);
    const identity: Identity = { account: c.sub, provider: c.prv, labels: c.lbl ?? {}, claims: c.clm ?? {} };
    if (c.prv === 'static') {
      if (this.#o.refreshLifetime === 0) {
        throw new PurserError(
          'UNAUTHORIZED',
          'refresh tokens are disabled (token.refreshTokenLifetime: 0): log in again',
        );
      }
      const signer = refreshTokenSigner(this.#o.keyring, token);
      const fp = signer && this.#o.staticUsers?.credentialFingerprint(c.sub, fingerprintKey(signer));
      if (fp === undefined || fp !== c.cfp) {
        throw new PurserError(
          'UNAUTHORIZED',
          'refresh token no longer valid (the account or its password changed): log in again',
        );
      }
      return identity;
    }
    if (this.#o.revalidate && (await this.#o.revalidate(identity))) return identity;
    throw new PurserError('UNAUTHORIZED', 'refresh token no longer valid: log in again');
  }

  #refreshLifetime(identity: Identity): number {
    if (identity.provider === 'static') return this.#o.refreshLifetime;
    if (identity.provider === 'anonymous') return 0;
    return this.#o.providerRefreshLifetime?.(identity.provider) ?? 0;
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

  async identify(req: TokenRequest, ip: string): Promise<Identity> {
    if (req.grant === 'refresh_token') return this.#fromRefreshToken(req.refreshToken!.reveal());
    if (req.credentials) return this.authenticate(req.credentials, ip);
    if (!this.#o.anonymous) throw new PurserError('UNAUTHORIZED', 'authentication required');
    return ANONYMOUS;
  }

  async handle(req: TokenRequest, ip: string): Promise<TokenOutcome> {
    const service = this.resolveService(req.service);
    const identity = await this.identify(req, ip);
    // A refresh grant keeps the refresh token it came with (no rotation): docker reuses it.
    return this.grant(identity, service, req.scopes, ip, req.offline && req.grant !== 'refresh_token');
  }

  /** What the authorizer (clamped to the request) grants an identity, without signing: the proxy's check. */
  async authorize(identity: Identity, service: string, scopes: readonly Scope[], ip: string) {
    return clampedAuthorizer(this.#o.authorizer).authorize({ identity, service, scopes, ip });
  }

  /**
   * Authorises and signs for an identity already established (the token endpoint after
   * authentication, or the library's `issue()`); `offline` asks for a refresh token.
   */
  async grant(
    identity: Identity,
    service: string,
    scopes: readonly Scope[],
    ip: string,
    offline: boolean,
  ): Promise<TokenOutcome> {
    // Clamped here too, for a TokenService built without buildApp (idempotent).
    const decisions = await clampedAuthorizer(this.#o.authorizer).authorize({
      identity,
      service,
      scopes,
      ip,
    });
    const granted: Scope[] = [];
    for (const d of decisions) if (d.granted.length > 0) granted.push({ ...d.requested, actions: d.granted });
    const issued = this.#o.keyring.signer.issue(identity.account, service, granted);
    const response: TokenResponse = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt.toISOString(),
    };
    if (offline) {
      const lifetime = this.#refreshLifetime(identity);
      if (lifetime > 0) {
        const cfp =
          identity.provider === 'static'
            ? this.#o.staticUsers?.credentialFingerprint(
                identity.account,
                fingerprintKey(this.#o.keyring.signer.key),
              )
            : undefined;
        response.refresh_token = issueRefreshToken(
          this.#o.keyring,
          this.#o.issuer,
          identity,
          cfp ? { cfp } : {},
          lifetime,
        );
      }
    }
    return { response, identity, service, decisions };
  }
}
