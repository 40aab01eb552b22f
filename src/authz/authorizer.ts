import type { Identity } from '../core/identity.js';
import type { Scope } from '../protocol/scope.js';
import type { MaybePromise } from '../util/maybe-promise.js';

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
  /**
   * The longest lifetime, seconds, of a token carrying this grant (an ACL rule's
   * `expiresIn`); undefined: token.expiresIn. A token lives as long as the shortest among
   * its granted scopes (authz/lifetime.ts).
   */
  expiresIn?: number;
}

/** "Not mine to say" for one scope: the next authorizer of a chain decides it. */
export interface NoDecision {
  requested: Scope;
  granted: undefined;
  /** Why not, for debug logs (kept when no later authorizer decides either). */
  explanation?: string;
}

export type ScopeAnswer = ScopeDecision | NoDecision;

/**
 * Decides, per requested scope, which actions an identity gets, or answers no decision
 * (`granted: undefined`) to leave the scope to the next authorizer of a chain
 * (chainAuthorizers); at the end of the chain, a scope nobody decided gets nothing. Purser
 * clamps every answer (authz/clamp.ts): one answer per requested scope, granted ⊆
 * requested; an answer for a scope that was not asked for, or an action not requested, is
 * dropped. A thrown `Denied` refuses the whole request.
 */
export interface Authorizer {
  authorize(request: AccessRequest): MaybePromise<readonly ScopeAnswer[]>;
}

/**
 * An authorizer whose every answer is a decision, clamped: what Purser's consumers call.
 * It answers at once when every authorizer it asks does (the ACL does): await it, or see
 * util/maybe-promise.ts. A throw (a `Denied`, say) is the same as a rejection.
 */
export interface DecidingAuthorizer {
  authorize(request: AccessRequest): MaybePromise<ScopeDecision[]>;
}
