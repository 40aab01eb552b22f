import type { RuleData } from '../config/schema.js';
import { ConfigError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { Scope } from '../protocol/scope.js';
import type { AccessRequest, Authorizer, ScopeAnswer, ScopeDecision } from './authorizer.js';
import { compilePattern, type Pattern } from './pattern.js';
import { RuleIndex } from './rule-index.js';

/** What a rule's `when` condition sees. */
export interface ConditionInput {
  identity: Identity;
  request: { type: string; name: string; actions: string[]; service: string; ip: string };
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
  match: Partial<Record<'account' | 'provider' | 'type' | 'name' | 'service', Pattern[]>>;
  when: Condition | undefined;
  actions: readonly string[];
  /** The lifetime of a token this rule grants something in; undefined: token.expiresIn. */
  expiresIn: number | undefined;
}

const MATCH_KEYS = ['account', 'provider', 'type', 'name', 'service'] as const;

type MatchValues = Record<(typeof MATCH_KEYS)[number], string>;

export type ConditionCompiler = (source: string, where: string) => Condition;

/** Compiles the `acl:` list. Every pattern (and condition) is checked here, at load time. */
export function compileRules(
  rules: readonly (RuleData & { when?: string | undefined })[],
  file: string | undefined,
  compileCondition?: ConditionCompiler,
): CompiledRule[] {
  return rules.map((r, index) => {
    const where = `acl[${index}]`;
    const match: CompiledRule['match'] = {};
    for (const key of MATCH_KEYS) {
      const v = r.match[key];
      if (v === undefined) continue;
      const list = Array.isArray(v) ? v : [v];
      match[key] = list.map((src, i) => {
        try {
          return compilePattern(src);
        } catch (e) {
          throw new ConfigError(
            file,
            `${where}.match.${key}${Array.isArray(v) ? `[${i}]` : ''}`,
            (e as Error).message,
          );
        }
      });
    }
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

  constructor(rules: readonly CompiledRule[], options: { indexed?: boolean } = {}) {
    this.rules = rules;
    this.#index = options.indexed === false ? undefined : new RuleIndex(rules);
  }

  #matches(rule: CompiledRule, values: MatchValues, identity: Identity): boolean {
    for (const key of MATCH_KEYS) {
      const patterns = rule.match[key];
      if (!patterns) continue;
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
      const label = rule.comment ? `${rule.where} (${rule.comment})` : rule.where;
      return {
        requested: scope,
        granted,
        rule: rule.index,
        explanation: `${label} grants [${rule.actions.join(', ')}]`,
        ...(rule.expiresIn !== undefined ? { expiresIn: rule.expiresIn } : {}),
      };
    }
    return { requested: scope, granted: [], rule: undefined, explanation: 'no rule matched' };
  }
}
