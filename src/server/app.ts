import type { Authenticator } from '../authn/authenticator.js';
import { readHtpasswd } from '../authn/htpasswd.js';
import { OidcAuthenticator, OidcProviders } from '../authn/oidc/authenticator.js';
import { PRESETS } from '../authn/oidc/presets.js';
import { OidcProvider } from '../authn/oidc/provider.js';
import { StaticUsers, type StoredCredential } from '../authn/static-users.js';
import { Acl, type ConditionCompiler, compileRules } from '../authz/acl.js';
import type { Authorizer, DecidingAuthorizer } from '../authz/authorizer.js';
import { chainAuthorizers } from '../authz/chain.js';
import type { Config } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { CelCompileError, CelEvalError, type CelProgram, celClaims, compileCel } from '../expr/cel.js';
import { type Stores, withMemoryStores } from '../state/stores.js';
import { derivedSecret } from '../token/fingerprint-key.js';
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
  /** What decides access: the ACL chained with the library user's own authorizer, clamped. */
  authorizer: DecidingAuthorizer;
  /** Shared with the states before and after a reload. */
  stores: Stores;
  providers: OidcProviders;
  tokens: TokenService;
  realm: string;
}

/** Extension points for applications that embed Purser as a library. */
export interface BuildOptions {
  /** Tried before the built-in authenticators (first that claims the credentials decides). */
  authenticators?: Authenticator[];
  /** Chained with the configured ACL (first decision wins), before it unless `authorizerOrder` says after. */
  authorizer?: Authorizer;
  authorizerOrder?: 'before-acl' | 'after-acl';
  /** Leave the configured ACL out of the chain (the library given only an authorizer). */
  withoutAcl?: boolean;
  /** The state stores; default those of `previous`, else in-memory ones. */
  stores?: Partial<Stores>;
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
  const stores = withMemoryStores({ ...options.previous?.stores, ...options.stores });
  // Keyed with secrets derived from the signing key, so replicas sharing a store agree.
  const staticUsers = new StaticUsers(users, config.auth.cacheSeconds, {
    refreshLifetime: config.token.refreshTokenLifetime,
    loginCache: stores.loginCache,
    loginCacheSecret: derivedSecret(keyring.signer.key, 'login cache'),
  });
  const providerList = await Promise.all(
    config.providers.map((p, i) =>
      OidcProvider.create(
        p,
        `providers[${i}]`,
        config.file,
        logger,
        (provider, kind, outcome) => metrics?.oidcFetches.inc({ provider, kind, outcome }),
        stores.replay,
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
  const own: Authenticator[] = [];
  if (providerList.length) own.push(new OidcAuthenticator(providers, 'by-name'));
  own.push(staticUsers);
  if (providerList.length) own.push(new OidcAuthenticator(providers, 'by-issuer'));
  const authenticators: Authenticator[] = [...(options.authenticators ?? []), ...own];

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
  // Both consumers (TokenService, RegistryProxy) get answers clamped to what was asked.
  const chain: Authorizer[] = options.withoutAcl ? [] : [acl.chainMember()];
  if (options.authorizer) {
    if (options.authorizerOrder === 'after-acl') chain.push(options.authorizer);
    else chain.unshift(options.authorizer);
  }
  const authorizer = chainAuthorizers(chain);
  const tokens = new TokenService({
    issuer: config.token.issuer,
    services: config.token.services,
    keyring,
    authenticators,
    authorizer,
    anonymous: config.auth.anonymous,
    // The store outlives reloads: a lockout survives one, under the limits now configured.
    throttle: stores.throttle,
    throttlePolicy: {
      max: config.auth.failedLogins.max,
      windowSeconds: config.auth.failedLogins.windowSeconds,
    },
    throttleSecret: derivedSecret(keyring.signer.key, 'throttle'),
    revocation: stores.revocation,
    imitateCheck: () => staticUsers.imitateCheck(),
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
    stores,
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
