import type { MatchData, RuleData } from '../config/schema.js';
import { ConfigError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { Scope } from '../protocol/scope.js';
import type { AccessRequest, Authorizer, ScopeAnswer, ScopeDecision } from './authorizer.js';
import { compilePattern, type Pattern } from './pattern.js';
import { RuleIndex } from './rule-index.js';

/** What a rule's `when` condition sees. */
export interface ConditionInput {
  identity: Identity;
  /** `tag`: the tag of a manifest PUT/DELETE that a proxy.tags entry decides. */
  request: { type: string; name: string; actions: string[]; service: string; ip: string; tag?: string };
}

/** A compiled `when` condition (CEL). Returns false, never throws, on a runtime error. */
export interface Condition {
  readonly source: string;
  evaluate(input: ConditionInput): boolean;
}

export interface CompiledRule {
  index: number;
  /** Where the rule sits in the config, e.g. `acl[2]`. */
  where: string;
  comment: string | undefined;
  match: Partial<Record<(typeof MATCH_KEYS)[number], Pattern[]>>;
  when: Condition | undefined;
  actions: readonly string[];
  /** The lifetime of a token this rule grants something in; undefined: token.expiresIn. */
  expiresIn: number | undefined;
}

const MATCH_KEYS = ['account', 'provider', 'group', 'type', 'name', 'service'] as const;

export type ConditionCompiler = (source: string, where: string) => Condition;

export type CompiledMatch = CompiledRule['match'];

/** Compiles a rule's `match` (ACL rules, proxy.tags entries); `where` names it in errors, e.g. `acl[2].match`. */
export function compileMatch(m: MatchData, where: string, file: string | undefined): CompiledMatch {
  const match: CompiledMatch = {};
  for (const key of MATCH_KEYS) {
    const v = m[key];
    if (v === undefined) continue;
    const list = Array.isArray(v) ? v : [v];
    match[key] = list.map((src, i) => {
      try {
        return compilePattern(src);
      } catch (e) {
        throw new ConfigError(
          file,
          `${where}.${key}${Array.isArray(v) ? `[${i}]` : ''}`,
          (e as Error).message,
        );
      }
    });
  }
  return match;
}

/** What a rule's `match` is tested against: the request's values for the keys matched against one value (`group` is matched against the identity's list). */
export type MatchValues = Record<Exclude<(typeof MATCH_KEYS)[number], 'group'>, string>;

/** True when every key of `match` holds for `values` (the ACL's first-match test). */
export function matchesRule(match: CompiledMatch, values: MatchValues, identity: Identity): boolean {
  for (const key of MATCH_KEYS) {
    const patterns = match[key];
    if (!patterns) continue;
    // A caller matches `group` when one of its groups matches one of the patterns.
    if (key === 'group') {
      const groups = identity.groups ?? [];
      if (!groups.some((g) => patterns.some((p) => p.test(g, identity)))) return false;
      continue;
    }
    // The anonymous caller is matched only by `account: ""`, never by a glob like `*`
    // that an operator writes to mean "any user".
    if (key === 'account' && values.account === '') {
      if (!patterns.some((p) => p.source === '')) return false;
      continue;
    }
    if (!patterns.some((p) => p.test(values[key], identity))) return false;
  }
  return true;
}

/** Compiles the `acl:` list. Every pattern (and condition) is checked here, at load time. */
export function compileRules(
  rules: readonly (RuleData & { when?: string | undefined })[],
  file: string | undefined,
  compileCondition?: ConditionCompiler,
): CompiledRule[] {
  return rules.map((r, index) => {
    const where = `acl[${index}]`;
    const match = compileMatch(r.match, `${where}.match`, file);
    let when: Condition | undefined;
    if (r.when !== undefined) {
      if (!compileCondition)
        throw new ConfigError(file, `${where}.when`, 'conditions are not available here');
      when = compileCondition(r.when, `${where}.when`);
    }
    return {
      index,
      where,
      comment: r.comment,
      match,
      when,
      actions: [...new Set(r.actions)],
      expiresIn: r.expiresIn,
    };
  });
}

/** Intersects requested with allowed actions; see SPEC §3 for the `*` rules. */
export function grantActions(requested: readonly string[], allowed: readonly string[]): string[] {
  if (allowed.includes('*')) return [...requested];
  const out: string[] = [];
  for (const a of requested) {
    if (a === '*') {
      for (const b of allowed) if (!out.includes(b)) out.push(b);
    } else if (allowed.includes(a) && !out.includes(a)) out.push(a);
  }
  return out;
}

/**
 * Ordered ACL: for each scope, the first rule whose match and condition hold decides
 * (`decide` answers nothing granted when none does).
 */
export class Acl implements Authorizer {
  readonly rules: readonly CompiledRule[];
  /** Undefined: a plain scan in rule order (the index's test oracle). */
  readonly #index: RuleIndex | undefined;

  /** Each rule's explanation of a grant, written once (a decision is made per scope). */
  readonly #grants: ReadonlyMap<CompiledRule, string>;

  constructor(rules: readonly CompiledRule[], options: { indexed?: boolean } = {}) {
    this.rules = rules;
    this.#index = options.indexed === false ? undefined : new RuleIndex(rules);
    this.#grants = new Map(
      rules.map((r) => [
        r,
        `${r.comment ? `${r.where} (${r.comment})` : r.where} grants [${r.actions.join(', ')}]`,
      ]),
    );
  }

  #matches(rule: CompiledRule, values: MatchValues, identity: Identity): boolean {
    return matchesRule(rule.match, values, identity);
  }

  /** Every scope decided: one no rule matches gets nothing (`purser check`, the ACL alone). */
  authorize(req: AccessRequest): ScopeDecision[] {
    return req.scopes.map((scope) => this.decide(scope, req));
  }

  /**
   * The ACL as a member of an authorizer chain: a scope no rule matches is left undecided,
   * for the authorizer after it (or the chain's default, nothing).
   */
  chainMember(): Authorizer {
    return {
      authorize: (req: AccessRequest): ScopeAnswer[] =>
        req.scopes.map((scope) => {
          const d = this.decide(scope, req);
          if (d.rule !== undefined) return d;
          return { requested: d.requested, granted: undefined, explanation: d.explanation };
        }),
    };
  }

  decide(scope: Scope, req: AccessRequest): ScopeDecision {
    const values: MatchValues = {
      account: req.identity.account,
      provider: req.identity.provider,
      type: scope.type,
      name: scope.name,
      service: req.service,
    };
    const accept = (rule: CompiledRule): boolean =>
      this.#matches(rule, values, req.identity) &&
      (!rule.when ||
        rule.when.evaluate({
          identity: req.identity,
          request: {
            type: scope.type,
            name: scope.name,
            actions: scope.actions,
            service: req.service,
            ip: req.ip,
          },
        }));
    const rule = this.#index ? this.#index.first(values, accept) : this.rules.find(accept);
    if (rule) {
      const granted = grantActions(scope.actions, rule.actions);
      return {
        requested: scope,
        granted,
        rule: rule.index,
        explanation: this.#grants.get(rule)!,
        ...(rule.expiresIn !== undefined ? { expiresIn: rule.expiresIn } : {}),
      };
    }
    return { requested: scope, granted: [], rule: undefined, explanation: 'no rule matched' };
  }
}
