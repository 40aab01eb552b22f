/** Who a caller is, as every later stage (ACL, CEL, tokens) sees it. */
export interface Identity {
  /** The account name; "" for the anonymous caller. Becomes the token's `sub`. */
  account: string;
  /** "static", "anonymous", or the name of the OIDC provider that vouched for it. */
  provider: string;
  /** Extra attributes for policies (from a provider's `labels`, a static user's `labels`). */
  labels: Readonly<Record<string, string>>;
  /**
   * The groups the caller belongs to (LDAP groups, a static user's `groups`, the
   * authentication webhook's answer), for `match: { group }` and CEL's `identity.groups`;
   * absent means none.
   */
  groups?: readonly string[];
  /** The verified JWT's claims; empty for identities that are not JWTs. */
  claims: Readonly<Record<string, unknown>>;
}

/** The provider of static users (config `users`, `htpasswd`). */
export const STATIC_PROVIDER = 'static';

/** The provider of identities the authentication webhook vouched for (`webhooks.authn`). */
export const WEBHOOK_PROVIDER = 'webhook';
/** The provider of identities the LDAP directory (config `ldap`) vouched for. */
export const LDAP_PROVIDER = 'ldap';

export const ANONYMOUS: Identity = Object.freeze({
  account: '',
  provider: 'anonymous',
  labels: Object.freeze({}),
  claims: Object.freeze({}),
});

/**
 * The provider names Purser gives identities it vouches for itself. An OIDC provider may
 * not take one: its callers would match rules (`provider: static`) and get the refresh
 * token lifetime meant for those identities.
 */
export const RESERVED_PROVIDER_NAMES: ReadonlySet<string> = new Set([
  STATIC_PROVIDER,
  LDAP_PROVIDER,
  ANONYMOUS.provider,
  WEBHOOK_PROVIDER,
]);
