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
}

export const ANONYMOUS: Identity = Object.freeze({
  account: '',
  provider: 'anonymous',
  labels: Object.freeze({}),
  claims: Object.freeze({}),
});
