/**
 * Purser as a library: a token server for OCI/Docker registries that you mount in your own
 * HTTP server, with your own authenticators (who is calling), authorizer (what they may do)
 * and keys (how tokens are signed). Re-exports only; every name here is public API, and
 * nothing else is. See docs/library.md.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createPurser } from 'purser';
 * const purser = await createPurser({ config: yourConfigObject, baseDir: '/etc/purser' });
 * createServer(purser.handler).listen(5001);
 * ```
 */
export type { Authenticator, AuthnContext, AuthnResult, Credentials } from './authn/authenticator.js';
export { ANONYMOUS, type Identity } from './authn/identity.js';
export type { AccessRequest, Authorizer, ScopeDecision } from './authz/authorizer.js';
export type { ConfigInput } from './config/schema.js';
export {
  ChallengeError,
  ConfigError,
  Denied,
  ERROR_CODES,
  type ErrorCodeInfo,
  isPurserError,
  type OAuthError,
  PurserError,
  type PurserErrorCode,
  TooManyAttempts,
} from './errors.js';
export type { PurserHandler } from './http/handler.js';
export {
  createPurser,
  type IssueOptions,
  type Purser,
  type PurserCommonOptions,
  type PurserConfigOptions,
  type PurserOptions,
  type PurserPartsOptions,
} from './library/create-purser.js';
export type { SigningKeyInput } from './library/signing-keys.js';
export type { Scope } from './protocol/scope.js';
export { Metrics } from './server/metrics.js';
export type { TokenResponse } from './server/token-service.js';
export { generateSigningKeyPair, type SigningAlgorithm } from './token/keys.js';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './util/log.js';
export { Secret } from './util/secret.js';
