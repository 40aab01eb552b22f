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

export {
  AUDIT_CLAIMS,
  type AuditEvent,
  AuditLog,
  type AuditLogOptions,
  type AuditOutcome,
} from './audit/audit-log.js';
export {
  type Authenticator,
  type AuthnContext,
  type AuthnResult,
  type Credentials,
  userThrottleKey,
} from './authn/authenticator.js';
export type {
  AccessRequest,
  Authorizer,
  DecidingAuthorizer,
  NoDecision,
  ScopeAnswer,
  ScopeDecision,
} from './authz/authorizer.js';
export { chainAuthorizers } from './authz/chain.js';
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
} from './core/errors.js';
export { ANONYMOUS, type Identity } from './core/identity.js';
export { Secret } from './core/secret.js';
export {
  createPurser,
  type IssueOptions,
  type Purser,
  type PurserCommonOptions,
  type PurserConfigOptions,
  type PurserOptions,
  type PurserPartsOptions,
} from './library/create-purser.js';
export type { PurserHandler } from './library/handler.js';
export type { SigningKeyInput } from './library/signing-keys.js';
export type { Scope } from './protocol/scope.js';
export { Metrics } from './server/metrics.js';
export type { TokenResponse } from './server/token-service.js';
export { type LoginCacheStore, MemoryLoginCacheStore } from './state/login-cache.js';
export { MemoryReplayStore, type ReplayStore } from './state/replay.js';
export {
  MemoryRevocationStore,
  type Revocation,
  type RevocationQuery,
  type RevocationStore,
} from './state/revocation.js';
export type { Stores } from './state/stores.js';
export { MemoryThrottleStore, type ThrottlePolicy, type ThrottleStore } from './state/throttle.js';
export { generateSigningKeyPair, type SigningAlgorithm } from './token/keys.js';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './util/log.js';
