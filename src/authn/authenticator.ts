import type { Identity } from '../core/identity.js';
import type { Secret } from '../core/secret.js';
import type { Scope } from '../protocol/scope.js';
import type { MaybePromise } from '../util/maybe-promise.js';

export interface Credentials {
  username: string;
  password: Secret;
}

export interface AuthnContext {
  /** The client's address, for logs and rate limits. */
  ip: string;
  /** When given, authenticators append the steps they took (for `purser check`). */
  trace?: string[];
  /** The token request's service and scopes, when the login is a token request's. */
  service?: string;
  scopes?: readonly Scope[];
}

/**
 * What an authenticator says about a set of credentials:
 * - `authenticated`: these credentials are good, here is who it is;
 * - `no-match`: not mine, ask the next authenticator;
 * - `rejected`: mine, and wrong. `reason` is safe to show to the caller.
 * A thrown error means only "could not decide" (an issuer down, say), never "no".
 */
export type AuthnResult =
  | { outcome: 'authenticated'; identity: Identity }
  | { outcome: 'no-match' }
  | { outcome: 'rejected'; reason: string };

/**
 * Who a caller is. Only `kind` and `authenticate` are required; the optional members let an
 * authenticator take part in throttling and refresh tokens without Purser knowing its kind.
 */
export interface Authenticator {
  /**
   * A short name for logs and `purser check`. Refresh tokens name the authenticator that
   * issued them by its kind, so give each authenticator of a chain its own.
   */
  readonly kind: string;
  /**
   * May answer without a promise when it knows at once (a login-cache hit): the request then
   * costs no microtask (util/maybe-promise.ts). A throw means "could not decide", as a
   * rejection does.
   */
  authenticate(credentials: Credentials, ctx: AuthnContext): MaybePromise<AuthnResult>;
  /**
   * What the failed-login limit counts this attempt under, or undefined to let the next
   * authenticator (and finally the default, {@link userThrottleKey}) say. Asked in chain
   * order before any authenticator runs. Purser keys the answer with an HMAC, so it may be
   * long; attempts that return the same string share one count.
   */
  throttleKey?(credentials: Credentials, ip: string): string | undefined;
  /**
   * True when exactly these credentials passed a full check recently (a login cache hit):
   * such a request is no guess, so it skips the limit on checks of one key running at once
   * (a burst of right passwords is not queued behind it); the lockout itself still applies.
   * Must not check anything slow: it runs before the login. Without the hook: false.
   */
  verified?(credentials: Credentials): MaybePromise<boolean>;
  /**
   * Seconds a refresh token issued to `identity` lives; 0 (or no hook) means none. Also asked
   * of each authenticator in turn, for `purser.issue()` identities no login produced: the
   * first with a lifetime issues the refresh token, so answer 0 for identities not yours.
   */
  refreshLifetime?(identity: Identity): number;
  /**
   * A value bound into the refresh token and computed again at every refresh: when it
   * differs (a changed password, say), the refresh token is refused. `secret` is derived from
   * the signing key that signs (or signed) the token: key the value with it, since the token
   * is readable by whoever holds it. Undefined binds nothing.
   */
  refreshBinding?(identity: Identity, secret: Buffer): string | undefined;
  /**
   * Re-checks an identity restored from a refresh token and returns it as it is now (a
   * reload's new labels or account mapping apply): `authenticated` with the recomputed
   * identity, `rejected` to refuse the refresh, `no-match` when it is not yours (tokens
   * issued before refresh tokens named their authenticator are offered to each in turn).
   * Without this hook, the authenticator's refresh tokens are refused.
   */
  restore?(saved: Identity): Promise<AuthnResult> | AuthnResult;
  /** Releases what the authenticator holds (connections, timers). Called once, at close. */
  close?(): Promise<void> | void;
}

/**
 * The default throttle key: a client address and a username. Every attempt at one name
 * from one address counts together, whatever the password looks like.
 */
export function userThrottleKey(ip: string, username: string): string {
  return `user\0${ip}\0${username}`;
}
