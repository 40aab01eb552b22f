import type { CompiledRule } from './acl.js';

/** The request values a rule's literal parts are looked up by. */
export interface IndexKeys {
  account: string;
  provider: string;
  type: string;
  name: string;
}

/**
 * The ACL's rules by their literal parts, so a decision looks at the few rules that can
 * match instead of scanning them all (10,000 rules, the deciding one last: 1,057 req/s
 * scanning, issue 11). Each rule is filed under ONE key, the most selective it has: its
 * exact accounts, else its names' literal prefixes, else its exact providers, else its
 * exact types; a rule with none of them is a candidate for every request. The candidates
 * are a superset of the rules that can match, visited in rule order, so the first that
 * matches is the one a linear scan finds: first-match semantics are unchanged.
 */
export class RuleIndex {
  readonly #account = new Map<string, number[]>();
  readonly #provider = new Map<string, number[]>();
  readonly #type = new Map<string, number[]>();
  /** Rules by name prefix, and the distinct prefix lengths, longest last. */
  readonly #name = new Map<string, number[]>();
  readonly #nameLengths: number[];
  readonly #always: number[] = [];
  readonly #rules: readonly CompiledRule[];

  constructor(rules: readonly CompiledRule[]) {
    this.#rules = rules;
    const lengths = new Set<number>();
    // Positions, not rule.index: the order is the array's, whoever built the rules.
    rules.forEach((rule, at) => {
      const m = rule.match;
      const exact = (key: 'account' | 'provider' | 'type') => {
        const ps = m[key];
        if (!ps || ps.some((p) => p.exact === undefined)) return undefined;
        return ps.map((p) => p.exact!);
      };
      const accounts = exact('account');
      if (accounts) {
        file(this.#account, accounts, at);
        return;
      }
      const names = m.name;
      if (names?.every((p) => p.prefix !== '')) {
        // A prefix that starts with another of the rule's adds nothing (and would visit the
        // rule twice for one name): keep the shortest.
        const all = names.map((p) => p.prefix);
        const prefixes = all.filter((p) => !all.some((q) => q.length < p.length && p.startsWith(q)));
        for (const p of prefixes) lengths.add(p.length);
        file(this.#name, prefixes, at);
        return;
      }
      const providers = exact('provider');
      if (providers) {
        file(this.#provider, providers, at);
        return;
      }
      const types = exact('type');
      if (types) {
        file(this.#type, types, at);
        return;
      }
      this.#always.push(at);
    });
    this.#nameLengths = [...lengths].sort((a, b) => a - b);
  }

  /** The first candidate, in rule order, for which `accept` holds. */
  first(keys: IndexKeys, accept: (rule: CompiledRule) => boolean): CompiledRule | undefined {
    const rules = this.#rules;
    const lists: number[][] = [];
    const add = (l: number[] | undefined) => {
      if (l) lists.push(l);
    };
    add(this.#account.get(keys.account));
    add(this.#provider.get(keys.provider));
    add(this.#type.get(keys.type));
    const name = keys.name;
    for (const len of this.#nameLengths) {
      if (len > name.length) break;
      add(this.#name.get(name.slice(0, len)));
    }
    if (this.#always.length > 0) lists.push(this.#always);
    if (lists.length === 0) return undefined;
    if (lists.length === 1) {
      for (const at of lists[0]!) if (accept(rules[at]!)) return rules[at];
      return undefined;
    }
    // A k-way merge by rule index (k is small: one list per key kind and prefix length).
    const at = new Array<number>(lists.length).fill(0);
    for (;;) {
      let best = -1;
      let bestIndex = Number.POSITIVE_INFINITY;
      for (let i = 0; i < lists.length; i++) {
        const r = lists[i]![at[i]!];
        if (r !== undefined && r < bestIndex) {
          best = i;
          bestIndex = r;
        }
      }
      if (best < 0) return undefined;
      const rule = rules[bestIndex]!;
      // No rule comes up twice: it is filed under one kind of key, a request has one value
      // per kind, and of a rule's name prefixes at most one begins a given name.
      at[best]!++;
      if (accept(rule)) return rule;
    }
  }
}

function file(map: Map<string, number[]>, keys: readonly string[], at: number): void {
  for (const k of new Set(keys)) {
    const l = map.get(k);
    if (l) l.push(at);
    else map.set(k, [at]);
  }
}
