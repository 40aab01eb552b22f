import type { Identity } from '../authn/identity.js';
import type { Scope } from '../protocol/scope.js';

export interface AccessRequest {
  identity: Identity;
  /** The service the token is for. */
  service: string;
  scopes: readonly Scope[];
  /** The client's address. */
  ip: string;
}

/** What was decided for one requested scope, and why. */
export interface ScopeDecision {
  requested: Scope;
  /** Granted actions (a subset of the requested ones, `*` expanded unless granted as `*`). */
  granted: string[];
  /** Index of the rule that decided, or undefined when no rule matched. */
  rule: number | undefined;
  /** A human-readable account of the decision, for `purser check` and debug logs. */
  explanation: string;
}

/**
 * Decides, per requested scope, which actions an identity gets. Purser clamps the answer
 * (authz/clamp.ts): one decision per requested scope, granted ⊆ requested; an answer for
 * a scope that was not asked for, or an action not requested, is dropped.
 */
export interface Authorizer {
  authorize(request: AccessRequest): Promise<ScopeDecision[]> | ScopeDecision[];
}
