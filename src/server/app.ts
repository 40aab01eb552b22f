import type { Authenticator } from '../authn/authenticator.js';
import { OidcAuthenticator, OidcProviders } from '../authn/oidc/authenticator.js';
import { PRESETS } from '../authn/oidc/presets.js';
import { OidcProvider } from '../authn/oidc/provider.js';
import { FailedLoginLimiter } from '../authn/rate-limit.js';
import { StaticUsers } from '../authn/static-users.js';
import { Acl } from '../authz/acl.js';
import type { Authorizer } from '../authz/authorizer.js';
import { clampedAuthorizer } from '../authz/clamp.js';
import { type CompiledConfig, compileConfig } from '../config/compile.js';
import type { Config } from '../config/load.js';
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
  compiled: CompiledConfig;
  /** Each provider's fingerprint (compile.ts), to know on a reload whether it changed. */
  providerFingerprints: ReadonlyMap<string, string>;
  /** Providers a later state carried over: closing this state leaves them open. */
  handedOver: Set<OidcProvider>;
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

/**
 * Builds the state for a configuration: compiles it first (compile.ts holds every refusal)
 * unless given compiled. Throws a ConfigError/PurserError naming what is wrong.
 */
export async function buildApp(
  input: Readonly<Config> | CompiledConfig,
  logger: Logger,
  metrics?: Metrics,
  options: BuildOptions = {},
): Promise<AppState> {
  const compiled =
    'kind' in input && input.kind === 'compiled'
      ? input
      : await compileConfig(input as Readonly<Config>, {
          ...(options.signingKeys ? { signingKeys: options.signingKeys } : {}),
          customAuthenticators: (options.authenticators?.length ?? 0) > 0,
          logger,
        });
  const config = compiled.config;
  const keyring = new KeyRing(compiled.signingKeys, {
    issuer: config.token.issuer,
    keyId: config.token.keyId,
    expiresIn: config.token.expiresIn,
  });
  const users = compiled.users;
  if (compiled.plaintextUsers.length > 0) {
    logger.warn('plaintext passwords in the configuration; store bcrypt hashes instead (purser hash)', {
      users: compiled.plaintextUsers,
    });
  }
  const staticUsers = new StaticUsers(users, config.auth.cacheSeconds);
  // A provider whose configuration (and CA) did not change is carried over whole, with the
  // keys it has fetched: a reload does not refetch them.
  const prev = options.previous;
  const carried: OidcProvider[] = [];
  const providerList = await Promise.all(
    config.providers.map(async (p, i) => {
      const same = prev ? reusableProvider(prev, p.name, compiled.providerFingerprints[i]!) : undefined;
      if (same) {
        carried.push(same);
        return same;
      }
      return OidcProvider.create(p, `providers[${i}]`, config.file, logger, (provider, kind, outcome) =>
        metrics?.oidcFetches.inc({ provider, kind, outcome }),
      );
    }),
  );
  const providers = new OidcProviders(providerList, config.file);
  for (const p of config.providers) {
    // Anyone can get a token from the public CI issuers: without a `when`, only the ACL
    // stands between every repository on the platform and this registry.
    if (!p.when && (p.issuer === PRESETS['github-actions'].issuer || p.issuer === PRESETS.gitlab.issuer)) {
      logger.warn(
        'provider accepts tokens from every repository of a public CI platform; restrict it with when: (e.g. on repository_owner or namespace_path)',
        { provider: p.name, issuer: p.issuer },
      );
    }
  }
  // Order (documented in docs/authentication.md): a username naming a provider, then static
  // users, then a JWT matched to a provider by its issuer.
  const authenticators: Authenticator[] = [...(options.authenticators ?? [])];
  if (providerList.length) authenticators.push(new OidcAuthenticator(providers, 'by-name'));
  authenticators.push(staticUsers);
  if (providerList.length) authenticators.push(new OidcAuthenticator(providers, 'by-issuer'));

  const acl = new Acl(compiled.rules);
  // A reload keeps the failed-login counts (and so any lockout) when the limits are unchanged.
  const fl = config.auth.failedLogins;
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
  // Fetch issuers' keys in the background so the first login does not wait for them; a
  // carried-over provider has its keys already.
  for (const p of providerList) if (!carried.includes(p)) void p.keys.warm();
  // Only now that the state is built: the previous state must not close what it handed on.
  for (const p of carried) prev?.handedOver.add(p);
  return {
    config,
    compiled,
    providerFingerprints: new Map(
      config.providers.map((p, i) => [p.name, compiled.providerFingerprints[i]!]),
    ),
    handedOver: new Set(),
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

/** The previous state's provider of that name, if its configuration is the same. */
function reusableProvider(prev: AppState, name: string, fingerprint: string): OidcProvider | undefined {
  if (prev.providerFingerprints.get(name) !== fingerprint) return undefined;
  return prev.providers.list.find((p) => p.name === name);
}
