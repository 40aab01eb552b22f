/** Who a caller is, as every later stage (ACL, CEL, tokens) sees it. */
export interface Identity {
  /** The account name; "" for the anonymous caller. Becomes the token's `sub`. */
  account: string;
  /** "static", "anonymous", or the name of the OIDC provider that vouched for it. */
  provider: string;
  /** Extra attributes for policies (from a provider's `labels`). */
  labels: Readonly<Record<string, string>>;
  /** The verified JWT's claims; empty for identities that are not JWTs. */
  claims: Readonly<Record<string, unknown>>;
  /** Groups the identity belongs to, when its authenticator knows them (the authentication webhook). */
  groups?: readonly string[];
}

/** The provider of static users (config `users`, `htpasswd`). */
export const STATIC_PROVIDER = 'static';

/** The provider of identities the authentication webhook vouched for (`webhooks.authn`). */
export const WEBHOOK_PROVIDER = 'webhook';

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
  ANONYMOUS.provider,
  WEBHOOK_PROVIDER,
]);
