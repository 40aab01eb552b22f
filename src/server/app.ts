import type { Authenticator } from '../authn/authenticator.js';
import type { LdapAuthenticator } from '../authn/ldap/authenticator.js';
import { OidcAuthenticator, OidcProviders } from '../authn/oidc/authenticator.js';
import { OidcProvider } from '../authn/oidc/provider.js';
import { StaticUsers } from '../authn/static-users.js';
import type { WebhookAuthenticator } from '../authn/webhook.js';
import { Acl } from '../authz/acl.js';
import type { Authorizer, DecidingAuthorizer } from '../authz/authorizer.js';
import { chainAuthorizers } from '../authz/chain.js';
import { clampedAuthorizer } from '../authz/clamp.js';
import type { WebhookAuthorizer } from '../authz/webhook.js';
import { zotCompatAuthorizer } from '../authz/zot-compat.js';
import { type CompiledConfig, compileConfig } from '../compile/compile-config.js';
import type { Config, WebhookConfig } from '../config/load.js';
import { PRESETS } from '../config/presets.js';
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
  /** The `ldap:` authenticator, closed with the state. */
  ldap: LdapAuthenticator | undefined;
  acl: Acl;
  /** What decides access: the ACL chained with the library user's own authorizer, clamped. */
  authorizer: DecidingAuthorizer;
  /** Shared with the states before and after a reload. */
  stores: Stores;
  providers: OidcProviders;
  tokens: TokenService;
  realm: string;
  compiled: CompiledConfig;
  /** Each provider's fingerprint (compile/compile-config.ts), to know on a reload whether it changed. */
  providerFingerprints: ReadonlyMap<string, string>;
  /** Providers a later state carried over: closing this state leaves them open. */
  handedOver: Set<OidcProvider>;
  /** The configured webhooks (their HTTP agents), closed with this state. */
  webhooks: readonly { close(): Promise<void> }[];
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
  const stores = withMemoryStores({ ...options.previous?.stores, ...options.stores });
  // Keyed with secrets derived from the signing key, so replicas sharing a store agree.
  const staticUsers = new StaticUsers(users, config.auth.cacheSeconds, {
    refreshLifetime: config.token.refreshTokenLifetime,
    loginCache: stores.loginCache,
    loginCacheSecret: derivedSecret(keyring.signer.key, 'login cache'),
    onLoginCache: (result) => metrics?.loginCache.inc({ result }),
  });
  // A provider whose configuration (and CA) did not change is carried over whole, with the
  // keys it has fetched: a reload does not refetch them. (Stores outlive reloads, so a
  // carried provider's replay store is still this state's.)
  const prev = options.previous;
  const carried: OidcProvider[] = [];
  const providerList = await Promise.all(
    config.providers.map(async (p, i) => {
      const same = prev ? reusableProvider(prev, p.name, compiled.providerFingerprints[i]!) : undefined;
      if (same) {
        carried.push(same);
        return same;
      }
      return OidcProvider.create(
        p,
        `providers[${i}]`,
        config.file,
        logger,
        (provider, kind, outcome) => metrics?.oidcFetches.inc({ provider, kind, outcome }),
        stores.replay,
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
  // Then the LDAP directory, and the authentication webhook last: it never sees a static
  // user's password, a provider's JWT or a directory user's password.
  const own: Authenticator[] = [];
  if (providerList.length) own.push(new OidcAuthenticator(providers, 'by-name'));
  own.push(staticUsers);
  if (providerList.length) own.push(new OidcAuthenticator(providers, 'by-issuer'));
  // LDAP last: a username no static user or provider claims may be a directory user; a JWT
  // password is an OIDC login, never sent to the directory.
  // ldapts is loaded only for a config with ldap:.
  const ldap = config.ldap
    ? new (await import('../authn/ldap/authenticator.js')).LdapAuthenticator(
        { ...config.ldap, ca: compiled.ldapCa },
        config.auth.cacheSeconds,
        {
          loginCache: stores.loginCache,
          loginCacheSecret: derivedSecret(keyring.signer.key, 'login cache'),
          onLoginCache: (result) => metrics?.loginCache.inc({ result }),
          logger,
        },
      )
    : undefined;
  if (ldap) own.push(ldap);
  if (config.ldap?.url.startsWith('ldap:') && !config.ldap.startTLS) {
    logger.warn('ldap: passwords go to the directory in clear; use ldaps:// or startTLS: true', {
      url: config.ldap.url,
    });
  }
  const webhooks: (WebhookAuthenticator | WebhookAuthorizer)[] = [];
  const observe = (hook: string) => (outcome: string, seconds: number) => {
    metrics?.webhookCalls.inc({ hook, outcome });
    metrics?.webhookDuration.observe(seconds, { hook });
  };
  const authnHook = config.webhooks.authn;
  // The webhooks (and zod, which checks their answers) are loaded for a config with one.
  if (authnHook) {
    const { WebhookAuthenticator } = await import('../authn/webhook.js');
    const hook = new WebhookAuthenticator({
      ...webhookTransport(authnHook, compiled.webhookCas.authn),
      logger,
      onCall: observe('authn'),
    });
    webhooks.push(hook);
    own.push(hook);
  }
  const authenticators: Authenticator[] = [...(options.authenticators ?? []), ...own];

  const acl = new Acl(compiled.rules);
  // Both consumers (TokenService, RegistryProxy) get answers clamped to what was asked.
  const chain: Authorizer[] = options.withoutAcl ? [] : [acl.chainMember()];
  const authzHook = config.webhooks.authz;
  if (authzHook) {
    const { WebhookAuthorizer } = await import('../authz/webhook.js');
    const hook = new WebhookAuthorizer({
      ...webhookTransport(authzHook, compiled.webhookCas.authz),
      claims: authzHook.claims,
      logger,
      onCall: observe('authz'),
    });
    webhooks.push(hook);
    if (authzHook.order === 'after-acl') chain.push(hook);
    else chain.unshift(hook);
  }
  // The library's authorizer goes outside the webhook: first of all, or last of all.
  if (options.authorizer) {
    if (options.authorizerOrder === 'after-acl') chain.push(options.authorizer);
    else chain.unshift(options.authorizer);
  }
  const chained = chainAuthorizers(chain);
  const zot = config.token.compat === 'zot';
  const authorizer = zot ? clampedAuthorizer(zotCompatAuthorizer(chained)) : chained;
  const tokens = new TokenService({
    issuer: config.token.issuer,
    services: config.token.services,
    keyring,
    authenticators,
    authorizer,
    anonymous: config.auth.anonymous,
    zotCatalogScope: zot,
    proxyService: config.proxy?.service,
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
  // Fetch issuers' keys in the background so the first login does not wait for them; a
  // carried-over provider has its keys already.
  for (const p of providerList) if (!carried.includes(p)) void p.keys.warm();
  // Registered again by every build that succeeds: the gauge reads the providers of the newest state.
  metrics?.labelledGauge(
    'purser_oidc_jwks_age_seconds',
    'Seconds since each provider last fetched its JWKS (absent before the first successful fetch).',
    'provider',
    function* () {
      for (const p of providerList) {
        const age = p.keys.ageSeconds;
        if (age !== undefined) yield [p.name, age] as [string, number];
      }
    },
    // Across workers: the oldest keys any of them serves with.
    'max',
  );
  // Only now that the state is built: the previous state must not close what it handed on.
  for (const p of carried) prev?.handedOver.add(p);
  return {
    config,
    compiled,
    providerFingerprints: new Map(
      config.providers.map((p, i) => [p.name, compiled.providerFingerprints[i]!]),
    ),
    handedOver: new Set(),
    webhooks,
    keyring,
    staticUsers,
    ldap,
    acl,
    authorizer,
    stores,
    providers,
    tokens,
    realm: 'purser',
  };
}

/** A webhook's transport settings, as its client takes them. */
function webhookTransport(w: WebhookConfig<'authn'> | WebhookConfig<'authz'>, ca: string | undefined) {
  return {
    url: w.url,
    secret: w.secret,
    ca,
    timeoutMs: Math.round(w.timeout * 1000),
    maxResponseBytes: w.maxResponseBytes,
    cacheSeconds: w.cacheSeconds,
    cacheEntries: w.cacheEntries,
  };
}

/** The previous state's provider of that name, if its configuration is the same. */
function reusableProvider(prev: AppState, name: string, fingerprint: string): OidcProvider | undefined {
  if (prev.providerFingerprints.get(name) !== fingerprint) return undefined;
  return prev.providers.list.find((p) => p.name === name);
}
