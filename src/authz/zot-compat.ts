import { isZotCatalogScope, type Scope } from '../protocol/scope.js';
import type { AccessRequest, Authorizer, ScopeAnswer, ScopeDecision } from './authorizer.js';

/** What a granted `*` becomes for Zot, which compares actions literally. */
export const CONCRETE_ACTIONS: readonly string[] = ['pull', 'push', 'delete'];

/** The scope Zot's catalog scope is decided as: the catalog, as distribution names it. */
const CATALOG: Scope = { type: 'registry', name: 'catalog', actions: ['*'] };

/**
 * `token.compat: zot`, around the (clamped) authorizer chain:
 * - `repository::pull` (empty name), which Zot's `/v2/_catalog` challenge asks for, is
 *   decided as `registry:catalog:*`: when the policy grants the catalog any action, the
 *   token carries `{type: repository, name: "", actions: [pull]}`, which Zot accepts for the
 *   whole catalog. Only `pull` is ever granted for the empty name (listing is read-only).
 * - a granted `*` is written as pull, push and delete: Zot looks for the action it needs in
 *   the list and does not read `*` as "all".
 */
export function zotCompatAuthorizer(inner: Authorizer): Authorizer {
  return {
    async authorize(req: AccessRequest): Promise<ScopeAnswer[]> {
      const asked = req.scopes.map((s) => (isZotCatalogScope(s) ? { ...CATALOG } : s));
      const answers = await inner.authorize({ ...req, scopes: asked });
      return req.scopes.map((requested, i): ScopeAnswer => {
        const a = answers[i];
        if (!a || a.granted === undefined)
          return { requested, granted: undefined, ...(a?.explanation ? { explanation: a.explanation } : {}) };
        const d = a as ScopeDecision;
        if (isZotCatalogScope(requested)) {
          const granted = d.granted.length > 0 && requested.actions.includes('pull') ? ['pull'] : [];
          return {
            ...d,
            requested,
            granted,
            explanation: `Zot catalog scope, decided as registry:catalog:*: ${d.explanation}`,
          };
        }
        return { ...d, requested, granted: d.granted.includes('*') ? expandStar(d.granted) : d.granted };
      });
    },
  };
}

function expandStar(granted: readonly string[]): string[] {
  const out = granted.filter((a) => a !== '*');
  for (const a of CONCRETE_ACTIONS) if (!out.includes(a)) out.push(a);
  return out;
}
