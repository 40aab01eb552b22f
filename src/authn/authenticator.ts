import type { Secret } from '../util/secret.js';
import type { Identity } from './identity.js';

export interface Credentials {
  username: string;
  password: Secret;
}

export interface AuthnContext {
  /** The client's address, for logs and rate limits. */
  ip: string;
  /** When given, authenticators append the steps they took (for `purser check`). */
  trace?: string[];
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

export interface Authenticator {
  /** A short name for logs and `purser check`. */
  readonly kind: string;
  authenticate(credentials: Credentials, ctx: AuthnContext): Promise<AuthnResult>;
}
