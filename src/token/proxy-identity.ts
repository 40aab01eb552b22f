import type { Identity } from '../core/identity.js';
import type { Scope } from '../protocol/scope.js';
import type { TokenClaims } from './signer.js';

/**
 * The proxy decides some requests on more than the token's `sub`: a proxy.tags entry's
 * `match`/`when` and the filtered catalog's ACL decisions need the caller's provider,
 * labels and claims. Tokens for the proxy's service that grant what those requests need
 * (push or delete on a repository, or the catalog) carry them, signed with the token, as
 * refresh tokens do (`prv`, `lbl`, `clm`): stateless, so any worker or replica can decide.
 * The registry ignores claims it does not know.
 */
export function identityClaims(
  identity: Identity,
  granted: readonly Scope[],
): Pick<TokenClaims, 'prv' | 'lbl' | 'clm'> | undefined {
  const needed = granted.some(
    (s) =>
      (s.type === 'registry' && s.name === 'catalog') ||
      (s.type === 'repository' && s.actions.some((a) => a === 'push' || a === 'delete' || a === '*')),
  );
  if (!needed) return undefined;
  return {
    prv: identity.provider,
    ...(Object.keys(identity.labels).length > 0 ? { lbl: identity.labels } : {}),
    ...(Object.keys(identity.claims).length > 0 ? { clm: identity.claims } : {}),
  };
}

/** The identity a verified access token carries (identityClaims), or undefined when it carries none. */
export function identityFromClaims(payload: Record<string, unknown>): Identity | undefined {
  if (typeof payload.prv !== 'string') return undefined;
  const obj = (v: unknown): Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(payload.lbl))) if (typeof v === 'string') labels[k] = v;
  return {
    account: typeof payload.sub === 'string' ? payload.sub : '',
    provider: payload.prv,
    labels,
    claims: obj(payload.clm),
  };
}
