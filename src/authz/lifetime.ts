import type { ScopeDecision } from './authorizer.js';

/**
 * A token's lifetime: the shortest among the decisions that granted something, each its
 * rule's `expiresIn` or, without one, the default (token.expiresIn). So a long push gets a
 * long token only when every grant in it allows that; a token granting nothing lives the
 * default.
 */
export function tokenLifetime(decisions: readonly ScopeDecision[], defaultLifetime: number): number {
  let out: number | undefined;
  for (const d of decisions) {
    if (d.granted.length === 0) continue;
    const l = d.expiresIn ?? defaultLifetime;
    if (out === undefined || l < out) out = l;
  }
  return out ?? defaultLifetime;
}
