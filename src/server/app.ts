import type { Authenticator } from '../authn/authenticator.js';
import { readHtpasswd } from '../authn/htpasswd.js';
import { OidcAuthenticator, OidcProviders } from '../authn/oidc/authenticator.js';
import { PRESETS } from '../authn/oidc/presets.js';
import { OidcProvider } from '../authn/oidc/provider.js';
import { FailedLoginLimiter } from '../authn/rate-limit.js';
import { StaticUsers, type StoredCredential } from '../authn/static-users.js';
import { Acl, type ConditionCompiler, compileRules } from '../authz/acl.js';
import type { Authorizer } from '../authz/authorizer.js';
import { clampedAuthorizer } from '../authz/clamp.js';
import type { Config } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { CelCompileError, CelEvalError, type CelProgram, celClaims, compileCel } from '../expr/cel.js';
import { KeyRing } from '../token/keyring.js';
import type { SigningKey } from '../token/keys.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from './metrics.js';
import { TokenService } from './token-service.js';

/** Everything a running server needs that is derived from one configuration. */
export interface AppState {
  config: Readonly<Config>;
  keyring: KeyRing;
  staticUsers: StaticUsers;
  acl: Acl;
  /** What decides access: the ACL, or the library user's own authorizer. */
  authorizer: Authorizer;
  limiter: FailedLoginLimiter;
  providers: OidcProviders;
  tokens: TokenService;
  realm: string;
}

/** Extension points for applications that embed Purser as a library. */
export interface BuildOptions {
  /** Tried before the built-in authenticators (first that claims the credentials decides). */
  authenticators?: Authenticator[];
  /** Replaces the configured ACL as the authorizer. */
  authorizer?: Authorizer;
  /** Signing keys held in memory (the library), used instead of `config.token.keys`' files. */
  signingKeys?: readonly SigningKey[];
  /** The state being replaced on a reload, to carry over what should survive it. */
  previous?: AppState;
}

/** Builds the state for a configuration; throws a ConfigError/PurserError naming what is wrong. */
export async function buildApp(
  config: Readonly<Config>,
  logger: Logger,
  metrics?: Metrics,
  options: BuildOptions = {},
): Promise<AppState> {
  const ringOptions = {
    issuer: config.token.issuer,
    keyId: config.token.keyId,
    expiresIn: config.token.expiresIn,
  };
  const given = options.signingKeys;
  if (given && config.token.keyId === 'x5c' && !given[0]?.x5c)
    throw new ConfigError(config.file, 'token.keyId', 'keyId x5c needs the certificate of the signing key');
  const keyring = given
    ? new KeyRing(given, ringOptions)
    : await KeyRing.load(config.token.keys, ringOptions);

  const users = new Map<string, StoredCredential>();
  if (config.htpasswd) {
    for (const [u, h] of readHtpasswd(config.htpasswd)) users.set(u, { hash: h });
  }
  const plaintext: string[] = [];
  for (const [name, entry] of Object.entries(config.users)) {
    if (users.has(name))
      throw new ConfigError(config.file, `users.${name}`, `also defined in ${config.htpasswd}`);
    users.set(name, entry);
    if ('password' in entry) plaintext.push(name);
  }
  if (plaintext.length > 0) {
    logger.warn('plaintext passwords in the configuration; store bcrypt hashes instead (purser hash)', {
      users: plaintext,
    });
  }
  const staticUsers = new StaticUsers(users, config.auth.cacheSeconds);
  const providerList = await Promise.all(
    config.providers.map((p, i) =>
      OidcProvider.create(p, `providers[${i}]`, config.file, logger, (provider, kind, outcome) =>
        metrics?.oidcFetches.inc({ provider, kind, outcome }),
      ),
    ),
  );
  const providers = new OidcProviders(providerList, config.file);
  config.providers.forEach((p, i) => {
    if (users.has(p.name)) {
      throw new ConfigError(
        config.file,
        `providers[${i}].name`,
        `${JSON.stringify(p.name)} is also a user in ${config.htpasswd}; a Basic username must select one or the other`,
      );
    }
    // Anyone can get a token from the public CI issuers: without a `when`, only the ACL
    // stands between every repository on the platform and this registry.
    if (!p.when && (p.issuer === PRESETS['github-actions'].issuer || p.issuer === PRESETS.gitlab.issuer)) {
      logger.warn(
        'provider accepts tokens from every repository of a public CI platform; restrict it with when: (e.g. on repository_owner or namespace_path)',
        { provider: p.name, issuer: p.issuer },
      );
    }
  });
  // Order (documented in docs/authentication.md): a username naming a provider, then static
  // users, then a JWT matched to a provider by its issuer.
  const authenticators: Authenticator[] = [...(options.authenticators ?? [])];
  if (providerList.length) authenticators.push(new OidcAuthenticator(providers, 'by-name'));
  authenticators.push(staticUsers);
  if (providerList.length) authenticators.push(new OidcAuthenticator(providers, 'by-issuer'));

  if (
    (options.authenticators?.length ?? 0) === 0 &&
    users.size === 0 &&
    providerList.length === 0 &&
    !config.auth.anonymous
  ) {
    throw new ConfigError(
      config.file,
      'users',
      'no way to authenticate: add users, htpasswd or providers, or enable auth.anonymous',
    );
  }

  const acl = new Acl(compileRules(config.acl, config.file, celConditions(config.file, logger)));
  // A reload keeps the failed-login counts (and so any lockout) when the limits are unchanged.
  const fl = config.auth.failedLogins;
  const prev = options.previous;
  const limiter =
    prev &&
    prev.config.auth.failedLogins.max === fl.max &&
    prev.config.auth.failedLogins.windowSeconds === fl.windowSeconds
      ? prev.limiter
      : new FailedLoginLimiter(fl.max, fl.windowSeconds);
  // Both consumers (TokenService, RegistryProxy) get answers clamped to what was asked.
  const authorizer = clampedAuthorizer(options.authorizer ?? acl);
  const tokens = new TokenService({
    issuer: config.token.issuer,
    services: config.token.services,
    keyring,
    authenticators,
    staticUsers,
    authorizer,
    anonymous: config.auth.anonymous,
    limiter,
    refreshLifetime: config.token.refreshTokenLifetime,
    providerRefreshLifetime: (name) => providers.refreshLifetime(name),
    revalidate: (identity) => providers.revalidate(identity),
    onFailedLogin: (kind) => metrics?.failedLogins.inc({ kind }),
  });
  // Fetch issuers' keys in the background so the first login does not wait for them.
  void providers.warm();
  return {
    config,
    keyring,
    staticUsers,
    acl,
    authorizer,
    limiter,
    providers,
    tokens,
    realm: 'purser',
  };
}

/** ACL `when:` conditions in CEL; a runtime error denies the rule and is logged. */
function celConditions(file: string | undefined, logger: Logger): ConditionCompiler {
  return (source, where) => {
    let program: CelProgram<boolean>;
    try {
      program = compileCel(source, ['identity', 'claims', 'request'], 'bool');
    } catch (e) {
      if (e instanceof CelCompileError) throw new ConfigError(file, where, e.message);
      throw e;
    }
    return {
      source,
      evaluate(input) {
        try {
          return program.run({
            identity: {
              account: input.identity.account,
              provider: input.identity.provider,
              labels: input.identity.labels,
            },
            claims: celClaims(input.identity.claims),
            request: input.request,
          });
        } catch (e) {
          if (!(e instanceof CelEvalError)) throw e;
          logger.warn('ACL condition failed to evaluate; the rule does not apply', {
            rule: where,
            reason: e.message,
          });
          return false;
        }
      },
    };
  };
}
