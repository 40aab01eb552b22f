import { ConfigError, PurserError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import type { Secret } from '../../core/secret.js';
import { isThenable, type MaybePromise } from '../../util/maybe-promise.js';
import type { Authenticator, AuthnResult, Credentials } from '../authenticator.js';
import { type OidcProvider, tokenDigest } from './provider.js';
import { looksLikeJwt, peekJwt } from './verify.js';

/**
 * The configured providers, and how a credential picks one:
 * 1. a Basic username equal to a provider's name selects it (`by-name`);
 * 2. (static users are tried next, by the caller's chain);
 * 3. a password that is a JWT whose `iss` is a provider's issuer selects it (`by-issuer`);
 *    two providers sharing an issuer are told apart by audience.
 */
export class OidcProviders {
  readonly list: readonly OidcProvider[];
  readonly #byName = new Map<string, OidcProvider>();
  readonly #byIssuer = new Map<string, OidcProvider[]>();

  constructor(providers: readonly OidcProvider[], file: string | undefined) {
    this.list = providers;
    providers.forEach((p, i) => {
      this.#byName.set(p.name, p);
      const same = this.#byIssuer.get(p.config.issuer) ?? [];
      for (const other of same) {
        const overlap = p.config.audiences.filter((a) => other.config.audiences.includes(a));
        if (overlap.length > 0) {
          throw new ConfigError(
            file,
            `providers[${i}]`,
            `same issuer and audience ${JSON.stringify(overlap[0])} as provider ${other.name}: a token could not tell them apart; give them different audiences`,
          );
        }
      }
      same.push(p);
      this.#byIssuer.set(p.config.issuer, same);
    });
  }

  hasIssuer(iss: string): boolean {
    return this.#byIssuer.has(iss);
  }

  byName(name: string): OidcProvider | undefined {
    return this.#byName.get(name);
  }

  /** The provider for a JWT by its (unverified) `iss` and `aud`; undefined when none. */
  forToken(token: string): OidcProvider | undefined {
    const peek = peekJwt(token);
    const iss = peek?.payload.iss;
    if (typeof iss !== 'string') return undefined;
    const candidates = this.#byIssuer.get(iss);
    if (!candidates || candidates.length === 0) return undefined;
    if (candidates.length === 1) return candidates[0];
    const aud = peek!.payload.aud;
    const auds = Array.isArray(aud) ? aud : [aud];
    return candidates.find((c) => c.config.audiences.some((a) => auds.includes(a)));
  }

  /**
   * Re-checks an identity restored from a refresh token against its provider's current
   * rules, and returns it as those rules make it now (labels of a reloaded configuration).
   */
  restore(saved: Identity): AuthnResult {
    const p = this.#byName.get(saved.provider);
    if (!p) return { outcome: 'no-match' };
    const refused: AuthnResult = {
      outcome: 'rejected',
      reason: 'refresh token no longer valid: log in again',
    };
    if (p.config.refreshTokenLifetime === 0) return refused;
    try {
      const identity = p.identityFromClaims(saved.claims as Record<string, unknown>);
      return identity.account === saved.account ? { outcome: 'authenticated', identity } : refused;
    } catch (e) {
      if (e instanceof PurserError && e.status === 401) return refused;
      throw e;
    }
  }

  refreshLifetime(provider: string): number {
    return this.#byName.get(provider)?.config.refreshTokenLifetime ?? 0;
  }

  async warm(): Promise<void> {
    await Promise.all(this.list.map((p) => p.keys.warm()));
  }

  #closed: Promise<void> | undefined;

  /** Closes every provider's connections; later calls wait for the first. */
  close(): Promise<void> {
    this.#closed ??= Promise.all(this.list.map((p) => p.close())).then(() => {});
    return this.#closed;
  }
}

/**
 * Failed logins are counted per client address and username, except for workload JWTs: all
 * of a provider's callers share its name as username, so counting those would let anyone
 * with any refused JWT lock every CI job behind the same address out. A JWT cannot be
 * guessed; repeated refusals of the same token are still throttled.
 */
function jwtThrottleKey(ip: string, digest: string): string {
  return `jwt\0${ip}\0${digest}`;
}

/**
 * What a request's password is as a JWT, worked out once: throttleKey, verified and
 * authenticate each ask, one after the other, and the token may be kilobytes. Remembered for
 * the last Credentials object asked about, for its very password only.
 */
interface LookedJwt {
  jwt: true;
  password: Secret;
  /** Its tokenDigest (what the provider's cache and the throttle know it by). */
  readonly digest: string;
  /** The provider its iss and aud pick (by-issuer), null for none; undefined: not asked. */
  byIssuer: OidcProvider | null | undefined;
}
/** `password` undefined: {@link NOT_JWT}, which is kept nowhere. */
type Looked = LookedJwt | { readonly jwt: false; readonly password: Secret | undefined };
// One entry, not a WeakMap keyed by the Credentials: an entry whose key is still in V8's young
// generation kept its value alive through scavenges, so every JWT login promoted its password
// (kilobytes, with the header it was cut from) to the old generation, ~1 MB per scavenge under
// load, collected only by mark-compacts (bench/README.md, sixth scale-out stop). The calls of
// one login come in a row; a login interleaved with another's only works its answer out again.
let lastCredentials: Credentials | undefined;
let lastLooked: Looked | undefined;
/** The tokenDigest of the last password found to be shaped like a JWT. */
let lastJwtDigest: string | undefined;

/** What every password without a dot is. */
const NOT_JWT: Looked = Object.freeze({ jwt: false, password: undefined });

function look(credentials: Credentials): Looked {
  // A JWT has two dots. Without one, the answer needs no memo: a static user's login is asked
  // by every OIDC authenticator of the chain, and would push a JWT login's answer out.
  const password = credentials.password;
  if (!password.reveal().includes('.')) return NOT_JWT;
  if (lastCredentials === credentials && lastLooked?.password === password) return lastLooked;
  const text = password.reveal();
  // A CI job sends the same JWT for every layer: its shape was checked the time before. Told
  // by digest: comparing the text itself with another caller's token would take the longer
  // the more of it matched.
  const digest = tokenDigest(text);
  const jwt = digest === lastJwtDigest || looksLikeJwt(text);
  if (jwt) lastJwtDigest = digest;
  const l: Looked = jwt ? { jwt: true, password, digest, byIssuer: undefined } : { jwt: false, password };
  lastCredentials = credentials;
  lastLooked = l;
  return l;
}

export class OidcAuthenticator implements Authenticator {
  readonly kind: string;
  readonly #providers: OidcProviders;
  readonly #mode: 'by-name' | 'by-issuer';

  constructor(providers: OidcProviders, mode: 'by-name' | 'by-issuer') {
    this.#providers = providers;
    this.#mode = mode;
    this.kind = `oidc-${mode}`;
  }

  throttleKey(credentials: Credentials, ip: string): string | undefined {
    const l = look(credentials);
    if (!l.jwt) return undefined;
    // By name: only a username naming a provider. By issuer: asked after the static users,
    // which claim their own names first.
    if (this.#mode === 'by-name' && !this.#providers.byName(credentials.username)) return undefined;
    return jwtThrottleKey(ip, l.digest);
  }

  /** A JWT its provider verified before, its time claims still holding, is no guess. */
  verified(credentials: Credentials): boolean {
    const l = look(credentials);
    if (!l.jwt) return false;
    const provider = this.#providerOf(credentials, l);
    return provider?.verifiedEarlier(l.digest) === true;
  }

  #providerOf(credentials: Credentials, l: LookedJwt): OidcProvider | undefined {
    if (this.#mode === 'by-name') return this.#providers.byName(credentials.username);
    if (l.byIssuer === undefined) l.byIssuer = this.#providers.forToken(l.password.reveal()) ?? null;
    return l.byIssuer ?? undefined;
  }

  refreshLifetime(identity: Identity): number {
    return this.#providers.refreshLifetime(identity.provider);
  }

  restore(saved: Identity): AuthnResult {
    return this.#providers.restore(saved);
  }

  close(): Promise<void> {
    return this.#providers.close();
  }

  /** At once for a JWT verified earlier (util/maybe-promise.ts). */
  authenticate(credentials: Credentials, ctx: { ip: string; trace?: string[] }): MaybePromise<AuthnResult> {
    const token = credentials.password.reveal();
    const l = look(credentials);
    let provider: OidcProvider | undefined;
    if (this.#mode === 'by-name') {
      provider = this.#providers.byName(credentials.username);
      if (!provider) return { outcome: 'no-match' };
      ctx.trace?.push(`provider: ${provider.name} (chosen by the username)`);
      if (!l.jwt)
        return { outcome: 'rejected', reason: `provider ${provider.name} expects a JWT as the password` };
    } else {
      if (!l.jwt) return { outcome: 'no-match' };
      provider = this.#providerOf(credentials, l);
      if (!provider) {
        const iss = peekJwt(token)?.payload.iss;
        if (typeof iss === 'string' && this.#providers.hasIssuer(iss)) {
          return {
            outcome: 'rejected',
            reason: `the token's aud matches none of the providers for issuer ${JSON.stringify(iss.slice(0, 200))}`,
          };
        }
        return {
          outcome: 'rejected',
          reason: `no provider is configured for the token's issuer${typeof iss === 'string' ? ` ${JSON.stringify(iss.slice(0, 200))}` : ''}`,
        };
      }
      ctx.trace?.push(`provider: ${provider.name} (chosen by the token's iss ${provider.config.issuer})`);
    }
    const name = provider.name;
    const refused = (e: unknown): AuthnResult => {
      if (e instanceof PurserError && e.status === 401)
        return { outcome: 'rejected', reason: `${name}: ${e.message}` };
      throw e;
    };
    const done = (identity: Identity): AuthnResult => ({ outcome: 'authenticated', identity });
    let identity: MaybePromise<Identity>;
    try {
      identity = provider.identifyNow(token, ctx.trace, l.digest);
    } catch (e) {
      return refused(e);
    }
    return isThenable(identity) ? Promise.resolve(identity).then(done, refused) : done(identity);
  }
}
