/**
 * Purser as a library: build a token server from a configuration, and plug in your own
 * authenticators (who is calling), authorizer (what they may do) and keys (how tokens are
 * signed). Re-exports only; every name here is public API.
 *
 * @example
 * ```ts
 * import { buildConfig, buildApp, TokenHttpServer, Metrics, createLogger } from 'purser';
 * const config = buildConfig(yourConfigObject, undefined, process.cwd());
 * const logger = createLogger();
 * const metrics = new Metrics();
 * const app = await buildApp(config, logger, metrics, { authenticators: [myLdapAuthenticator] });
 * const server = new TokenHttpServer(app, logger, metrics);
 * await server.listen('127.0.0.1:5001');
 * ```
 */
export type { Authenticator, AuthnContext, AuthnResult, Credentials } from './authn/authenticator.js';
export { parseHtpasswd, readHtpasswd } from './authn/htpasswd.js';
export { ANONYMOUS, type Identity } from './authn/identity.js';
export { OidcAuthenticator, OidcProviders } from './authn/oidc/authenticator.js';
export { PRESETS } from './authn/oidc/presets.js';
export { OidcProvider } from './authn/oidc/provider.js';
export { StaticUsers, type StoredCredential } from './authn/static-users.js';
export { Acl, type CompiledRule, type Condition, compileRules, grantActions } from './authz/acl.js';
export type { AccessRequest, Authorizer, ScopeDecision } from './authz/authorizer.js';
export { compilePattern, type Pattern } from './authz/pattern.js';
export {
  buildConfig,
  type Config,
  loadConfigFile,
  type ProviderConfig,
  type ProxyConfig,
} from './config/load.js';
export { type ConfigInput, configSchema } from './config/schema.js';
export { ConfigError, isPurserError, PurserError, type PurserErrorCode } from './errors.js';
export { compileCel } from './expr/cel.js';
export { formatScope, KNOWN_ACTIONS, parseScope, parseScopes, type Scope } from './protocol/scope.js';
export { parseGetTokenRequest, parsePostTokenRequest, type TokenRequest } from './protocol/token-request.js';
export { type RouteAccess, requiredAccess } from './proxy/access.js';
export { RegistryProxy } from './proxy/server.js';
export { type AppState, type BuildOptions, buildApp } from './server/app.js';
export { TokenHttpServer } from './server/http.js';
export { Metrics } from './server/metrics.js';
export { type TokenResponse, TokenService, type TokenServiceOptions } from './server/token-service.js';
export { selfSignedCertificate } from './token/certificate.js';
export { jwkThumbprint, libtrustKeyId } from './token/keyid.js';
export { KeyRing } from './token/keyring.js';
export { generateSigningKeyPair, loadSigningKey, type SigningKey, signingKeyFromPem } from './token/keys.js';
export { type AccessEntry, type KeyIdMode, TokenSigner } from './token/signer.js';
export { verifyAccessToken } from './token/verify-access.js';
export { createLogger, type Logger } from './util/log.js';
export { Secret } from './util/secret.js';
