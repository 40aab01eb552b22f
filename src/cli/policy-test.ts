import { OidcProvider } from '../authn/oidc/provider.js';
import { Acl } from '../authz/acl.js';
import type { ScopeDecision } from '../authz/authorizer.js';
import { clampedAuthorizer } from '../authz/clamp.js';
import { zotCompatAuthorizer } from '../authz/zot-compat.js';
import type { CompiledConfig } from '../compile/compile-config.js';
import { ConfigError, PurserError } from '../core/errors.js';
import { ANONYMOUS, type Identity, STATIC_PROVIDER } from '../core/identity.js';
import { isZotCatalogScope } from '../protocol/scope.js';
import { silentLogger } from '../util/log.js';
import { type PolicyCase, scopeKey } from './policy-cases.js';

/** The outcome for one requested scope of a case. */
export interface ScopeResult {
  key: string;
  requested: readonly string[];
  expected: readonly string[];
  granted: readonly string[];
  /** The deciding rule (`acl[2] (comment)`), or "no rule matched". */
  decidedBy: string;
  ok: boolean;
}

export interface CaseResult {
  name: string;
  where: string;
  /** Who the case turned out to be: `alice [static]`, `(anonymous)`. */
  caller: string;
  /** Set when a real login would be refused (then nothing is granted). */
  refused: string | undefined;
  scopes: ScopeResult[];
  ok: boolean;
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.includes(x));

/**
 * Evaluates cases against a compiled configuration with the ACL `serve` would use, and
 * identities built as a real login builds them (a provider's `when`, `account` and `labels`
 * CEL run on the given claims), without credentials, signatures or issuing anything.
 */
export async function evaluateCases(
  compiled: CompiledConfig,
  cases: readonly PolicyCase[],
  casesFile: string,
): Promise<CaseResult[]> {
  const config = compiled.config;
  const acl = new Acl(compiled.rules);
  const zot = config.token.compat === 'zot';
  // As serve decides: with token.compat: zot, the catalog scope mapping and `*` expansion too.
  const decide = zot
    ? clampedAuthorizer(zotCompatAuthorizer(acl))
    : { authorize: async (r: Parameters<Acl['authorize']>[0]) => acl.authorize(r) };
  // Providers are built for their CEL only: their key sets are never asked for a key, so
  // nothing is fetched.
  const providers = new Map<string, OidcProvider>();
  try {
    for (const [i, p] of config.providers.entries())
      providers.set(p.name, await OidcProvider.create(p, `providers[${i}]`, config.file, silentLogger));
    const services = config.token.services;
    const results: CaseResult[] = [];
    for (const c of cases) {
      const d = c.data;
      const empty = c.scopes.findIndex(isZotCatalogScope);
      if (!zot && empty >= 0)
        throw new ConfigError(
          casesFile,
          `${c.where}.scopes[${empty}]`,
          'empty resource name (Zot asks for it for its catalog: the configuration needs token.compat: zot)',
        );
      let identity: Identity = ANONYMOUS;
      let refused: string | undefined;
      if (d.user !== undefined) {
        const stored = compiled.users.get(d.user);
        if (!stored)
          throw new ConfigError(
            casesFile,
            `${c.where}.user`,
            `no user ${JSON.stringify(d.user)} in ${config.file ?? 'the configuration'}`,
          );
        // The user's configured groups and labels, as a login gives them; a case's labels add to them.
        identity = {
          account: d.user,
          provider: STATIC_PROVIDER,
          labels: { ...stored.labels, ...d.labels },
          claims: {},
          ...(stored.groups?.length ? { groups: stored.groups } : {}),
        };
      } else if (d.provider !== undefined) {
        const provider = providers.get(d.provider);
        if (!provider)
          throw new ConfigError(
            casesFile,
            `${c.where}.provider`,
            `no provider ${JSON.stringify(d.provider)} in ${config.file ?? 'the configuration'}`,
          );
        try {
          identity = provider.identityFromClaims(d.claims ?? {});
        } catch (e) {
          if (!(e instanceof PurserError)) throw e;
          refused = e.message;
        }
      } else if (!config.auth.anonymous) {
        refused = 'anonymous access is disabled (auth.anonymous: false)';
      }
      if (d.service !== undefined && !services.includes(d.service))
        throw new ConfigError(
          casesFile,
          `${c.where}.service`,
          `not one of token.service (${services.join(', ')})`,
        );
      const service = d.service ?? services[0]!;
      const decisions: Pick<ScopeDecision, 'requested' | 'granted' | 'explanation'>[] = refused
        ? c.scopes.map((s) => ({ requested: s, granted: [], explanation: `login refused: ${refused}` }))
        : await decide.authorize({ identity, service, scopes: c.scopes, ip: d.ip ?? '127.0.0.1' });
      const scopes = decisions.map((dec) => {
        const key = scopeKey(dec.requested);
        const expected = c.expect.get(key) ?? [];
        return {
          key,
          requested: dec.requested.actions,
          expected,
          granted: dec.granted,
          decidedBy: dec.explanation.replace(/ grants (\[.*\])$/, ' (allows $1)'),
          ok: sameSet(expected, dec.granted),
        };
      });
      results.push({
        name: d.name,
        where: c.where,
        caller: refused
          ? '(refused)'
          : identity.account === ''
            ? '(anonymous)'
            : `${identity.account} [${identity.provider}]`,
        refused,
        scopes,
        ok: scopes.every((s) => s.ok),
      });
    }
    return results;
  } finally {
    await Promise.all([...providers.values()].map((p) => p.close()));
  }
}

const fmt = (a: readonly string[]) => `[${a.join(', ')}]`;

/** One case's lines: `ok` and its name, or `FAIL` with expected vs granted per differing scope. */
export function formatCase(r: CaseResult): string {
  if (r.ok) return `ok    ${r.name}\n`;
  let out = `FAIL  ${r.name} (${r.where}, caller ${r.caller})\n`;
  if (r.refused) out += `        login refused: ${r.refused}\n`;
  for (const s of r.scopes) {
    if (s.ok) continue;
    const missing = s.expected.filter((a) => !s.granted.includes(a));
    const extra = s.granted.filter((a) => !s.expected.includes(a));
    out += `        ${s.key} (requested ${fmt(s.requested)})\n`;
    out += `          expected ${fmt(s.expected)}\n`;
    out += `          granted  ${fmt(s.granted)}   decided by ${s.decidedBy}\n`;
    if (missing.length) out += `          - missing ${fmt(missing)}\n`;
    if (extra.length) out += `          + extra   ${fmt(extra)}\n`;
  }
  return out;
}

/** The report: every case, then a summary. */
export function formatReport(results: readonly CaseResult[]): string {
  const failed = results.filter((r) => !r.ok).length;
  return `${results.map(formatCase).join('')}\n${results.length - failed} passed, ${failed} failed\n`;
}
