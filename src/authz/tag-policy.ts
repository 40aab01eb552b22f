import type { TagRuleData } from '../config/schema.js';
import { ConfigError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import {
  type CompiledMatch,
  type Condition,
  type ConditionCompiler,
  compileMatch,
  matchesRule,
} from './acl.js';
import { compilePattern, type Pattern } from './pattern.js';

/** A compiled `proxy.tags` entry. */
export interface TagRule {
  index: number;
  /** Where it sits in the config, e.g. `proxy.tags[2]`; refusals name it. */
  where: string;
  comment: string | undefined;
  tags: Pattern;
  match: CompiledMatch;
  when: Condition | undefined;
  /** undefined: the ACL's decision stands. */
  actions: readonly ('push' | 'delete')[] | undefined;
  immutable: boolean;
}

/** Compiles `proxy.tags`; every pattern and condition is checked here, at load time. */
export function compileTagRules(
  entries: readonly TagRuleData[],
  file: string | undefined,
  compileCondition: ConditionCompiler,
): TagRule[] {
  return entries.map((e, index) => {
    const where = `proxy.tags[${index}]`;
    let tags: Pattern;
    try {
      tags = compilePattern(e.tags);
    } catch (err) {
      throw new ConfigError(file, `${where}.tags`, (err as Error).message);
    }
    // A tag never holds `/`: `**` would only read as a mistake for `*`.
    if (/\*\*/.test(e.tags) && !(e.tags.startsWith('/') && e.tags.endsWith('/')))
      throw new ConfigError(file, `${where}.tags`, 'a tag has no "/": write * instead of **');
    return {
      index,
      where,
      comment: e.comment,
      tags,
      match: e.match ? compileMatch(e.match, `${where}.match`, file) : {},
      when: e.when === undefined ? undefined : compileCondition(e.when, `${where}.when`),
      actions: e.actions ? [...new Set(e.actions)] : undefined,
      immutable: e.immutable === true,
    };
  });
}

/** A manifest PUT (push) or DELETE (delete) by tag, as the proxy will forward it. */
export interface TagRequest {
  identity: Identity;
  repository: string;
  tag: string;
  action: 'push' | 'delete';
  service: string;
  ip: string;
}

/** What the tag policy says about one request. */
export type TagDecision =
  /** No entry applies, or the deciding one leaves it to the ACL (already granted). */
  | { kind: 'allow'; rule: TagRule | undefined; immutable: boolean }
  | { kind: 'deny'; rule: TagRule; message: string };

/** The label a refusal or log line names an entry by: `proxy.tags[1] (releases are write-once)`. */
export const tagRuleLabel = (r: TagRule): string => (r.comment ? `${r.where} (${r.comment})` : r.where);

/**
 * The first entry whose `tags`, `match` and `when` hold decides: with `actions`, whether the
 * action is allowed; without, the ACL's grant (already checked) stands. `immutable` is left
 * to the caller for a push (it needs the upstream), and refuses a delete outright: deleting
 * the tag would let it be pushed again with other content.
 */
export function decideTag(rules: readonly TagRule[], req: TagRequest): TagDecision {
  const values = {
    account: req.identity.account,
    provider: req.identity.provider,
    type: 'repository',
    name: req.repository,
    service: req.service,
  };
  for (const rule of rules) {
    // Placeholders in a tag glob resolve like a rule's: ${account}, ${claims.NAME}, …
    if (!rule.tags.test(req.tag, req.identity)) continue;
    if (!matchesRule(rule.match, values, req.identity)) continue;
    if (
      rule.when &&
      !rule.when.evaluate({
        identity: req.identity,
        request: {
          type: 'repository',
          name: req.repository,
          actions: [req.action],
          service: req.service,
          ip: req.ip,
          tag: req.tag,
        },
      })
    )
      continue;
    const verb = req.action === 'push' ? 'push of' : 'delete of';
    if (rule.actions && !rule.actions.includes(req.action))
      return { kind: 'deny', rule, message: `${verb} tag ${req.tag} refused by ${tagRuleLabel(rule)}` };
    if (rule.immutable && req.action === 'delete')
      return { kind: 'deny', rule, message: `tag ${req.tag} is immutable (${tagRuleLabel(rule)})` };
    return { kind: 'allow', rule, immutable: rule.immutable };
  }
  return { kind: 'allow', rule: undefined, immutable: false };
}
