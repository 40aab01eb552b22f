import { KNOWN_ACTIONS, type Scope } from '../protocol/scope.js';
import { andThen, type MaybePromise } from '../util/maybe-promise.js';
import type {
  AccessRequest,
  Authorizer,
  DecidingAuthorizer,
  NoDecision,
  ScopeAnswer,
  ScopeDecision,
} from './authorizer.js';

const MAX_EXPLANATION = 500;
/** The largest token.expiresIn (config/schema.ts). */
const MAX_LIFETIME = 86400;

const sameResource = (a: Scope, b: unknown): boolean => {
  if (b === null || typeof b !== 'object') return false;
  const s = b as Partial<Scope>;
  return s.type === a.type && s.name === a.name && (s.class ?? undefined) === (a.class ?? undefined);
};

/**
 * The actions of `granted` that `requested` asked for (SPEC §3): a granted `*` gives each
 * requested action (a requested `*` stays `*`); a requested `*` may be answered with `*` or
 * with concrete known actions. Anything else, or a `granted` that is not a string list,
 * gives nothing.
 */
export function clampActions(requested: readonly string[], granted: unknown): string[] {
  if (!Array.isArray(granted)) return [];
  const g = granted.filter((a): a is string => typeof a === 'string');
  const all = g.includes('*');
  const out: string[] = [];
  const add = (a: string) => {
    if (!out.includes(a)) out.push(a);
  };
  for (const a of requested) {
    if (a === '*') {
      if (all) add('*');
      else for (const b of g) if (KNOWN_ACTIONS.has(b)) add(b);
    } else if (all || g.includes(a)) add(a);
  }
  return out;
}

/**
 * Fits an authorizer's answer to what was asked: one answer per requested scope, in order,
 * whose `requested` is that scope and whose `granted` is a subset of its actions, or is
 * undefined (no decision). An answer is taken from the same position when it names the same
 * resource, else from the first unused one that does; a scope without one is undecided. So
 * an authorizer, whoever wrote it, can narrow what a token carries but never add a scope or
 * an action.
 */
export function clampAnswers(scopes: readonly Scope[], answers: unknown): ScopeAnswer[] {
  const list: unknown[] = Array.isArray(answers) ? answers : [];
  const used = new Set<number>();
  return scopes.map((scope, i) => {
    let at = -1;
    if (!used.has(i) && sameResource(scope, (list[i] as ScopeAnswer | undefined)?.requested)) at = i;
    else at = list.findIndex((d, j) => !used.has(j) && sameResource(scope, (d as ScopeAnswer)?.requested));
    const requested: Scope = { ...scope, actions: [...scope.actions] };
    if (at < 0) return { requested, granted: undefined, explanation: 'the authorizer gave no decision' };
    used.add(at);
    const d = list[at] as Partial<ScopeDecision>;
    // It reaches debug logs and `purser check`: bounded like every logged value.
    const explanation = typeof d.explanation === 'string' ? d.explanation.slice(0, MAX_EXPLANATION) : '';
    if (d.granted === undefined) return { requested, granted: undefined, explanation } satisfies NoDecision;
    return {
      requested,
      granted: clampActions(scope.actions, d.granted),
      rule: typeof d.rule === 'number' ? d.rule : undefined,
      explanation,
      // Bounded like token.expiresIn: no authorizer makes a token outlive a day.
      ...(Number.isInteger(d.expiresIn) && d.expiresIn! >= 1 && d.expiresIn! <= MAX_LIFETIME
        ? { expiresIn: d.expiresIn! }
        : {}),
    };
  });
}

/** An undecided scope at the end of a chain: nothing granted. */
export function finalDecision(a: ScopeAnswer): ScopeDecision {
  if (a.granted !== undefined) return a;
  return {
    requested: a.requested,
    granted: [],
    rule: undefined,
    explanation: a.explanation || 'no authorizer decided',
  };
}

/** clampAnswers, with a scope nobody decided granted nothing. */
export function clampDecisions(scopes: readonly Scope[], decisions: unknown): ScopeDecision[] {
  return clampAnswers(scopes, decisions).map(finalDecision);
}

const copyScope = (s: Scope): Scope => ({ ...s, actions: [...s.actions] });

/**
 * Asks `inner` and clamps its answer (clampAnswers). The authorizer sees copies of the
 * scopes and of the identity, and the clamp holds its answer to the scopes as asked, which
 * it never sees: whatever it does to its copies, it cannot change what its answer is held
 * to. (Copies, not frozen objects: Object.freeze runs in V8's runtime, and freezing every
 * scope, action list and identity cost a token request over HTTP 25–30 µs of CPU, as much
 * as the ACL decision ten times over. bench/README.md, fourth scale-out stop.)
 */
export function askClamped(inner: Authorizer, req: AccessRequest): MaybePromise<ScopeAnswer[]> {
  const answers = inner.authorize({
    ...req,
    identity: { ...req.identity },
    scopes: req.scopes.map(copyScope),
  });
  return andThen(answers, (a) => clampAnswers(req.scopes, a));
}

/**
 * The authorizers this module and chain.ts make: each answer already clamped to the
 * request and every scope decided, from code that changes nothing it is given. Clamping
 * one again would copy and compare the same scopes twice per token.
 */
const deciding = new WeakSet<object>();

/** Marks an authorizer made here or by chainAuthorizers as already clamping (see `deciding`). */
export function markDeciding(a: DecidingAuthorizer): DecidingAuthorizer {
  deciding.add(a);
  return a;
}

/**
 * Wraps an authorizer so every answer is clamped and every scope decided (nothing by
 * default); one that already does (a chain, or a wrapper made here) is returned as is.
 */
export function clampedAuthorizer(inner: Authorizer): DecidingAuthorizer {
  if (deciding.has(inner)) return inner as DecidingAuthorizer;
  return markDeciding({
    authorize: (req: AccessRequest) => andThen(askClamped(inner, req), (a) => a.map(finalDecision)),
  });
}
