import type { IncomingMessage } from 'node:http';
import { ChallengeError, Denied, isPurserError, type PurserError, TooManyAttempts } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { bearerChallenge } from '../protocol/responses.js';
import { formatScopeWith, type Scope } from '../protocol/scope.js';
import { parseBasicAuth } from '../protocol/token-request.js';
import type { AppState } from '../server/app.js';
import { VerifiedTokenCache } from '../token/verified-cache.js';
import { covers, verifyAccessToken } from '../token/verify-access.js';

/** The access a registry API request needs (access.ts's `scoped` answer). */
export interface RequiredAccess {
  /** The target's scope first; for a cross-repository mount, `repository:FROM:pull` second. */
  scopes: readonly Scope[];
  mountFrom?: string | undefined;
}

/** What the controller needs besides the request. */
export interface AccessContext {
  /** The client's address (after trustProxy). */
  ip: string;
  /** The token endpoint clients are sent to in challenges. */
  realm: string;
}

/** Access granted: who the caller is, and whether a requested mount may go ahead. */
export interface AccessGrant {
  account: string;
  /**
   * False when a Basic caller may not pull the mount's source: the proxy then does a plain
   * upload, as distribution does for a mount it may not perform.
   */
  mountAllowed: boolean;
  /** For the audit log: who vouched, what was granted and which rules decided. */
  provider?: string;
  identity?: Identity;
  granted?: string[];
  rule?: (number | null)[];
  jti?: string;
}

/**
 * distribution's `auth.AccessController`: `Authorized(req, access…)` grants or refuses.
 * A refusal is a PurserError that writes its own answer: a ChallengeError (401, its
 * Bearer challenge naming every scope needed), Denied (403) or TooManyAttempts (429).
 */
export interface AccessController {
  authorized(req: IncomingMessage, access: RequiredAccess, ctx: AccessContext): Promise<AccessGrant>;
}

const DENIED_MESSAGE = 'requested access to the resource is denied';

/**
 * The proxy's controller over one compiled state: Bearer tokens are Purser's own, verified
 * against its keyring (and cached until they expire); Basic credentials go through the
 * token service's authentication and authorization, as a token request would. Build a new
 * one when the state is replaced: tokens verified under the old keys are verified again.
 */
export class TokenAccessController implements AccessController {
  readonly #state: AppState;
  readonly #service: string;
  // Verified bearer tokens (keyed by a hash, bounded in bytes) until they expire, with
  // distribution's 60 s leeway.
  readonly #verified = new VerifiedTokenCache();

  constructor(state: AppState, service: string) {
    this.#state = state;
    this.#service = service;
  }

  async authorized(req: IncomingMessage, access: RequiredAccess, ctx: AccessContext): Promise<AccessGrant> {
    const header = req.headers.authorization;
    const challenge = (message: string, error?: 'invalid_token' | 'insufficient_scope') =>
      new ChallengeError(message, this.#challenge(ctx.realm, access.scopes, error));
    if (!header) throw challenge('authentication required');
    if (/^bearer /i.test(header)) return this.#bearer(header.slice(7).trim(), access, challenge);

    let creds: ReturnType<typeof parseBasicAuth>;
    try {
      creds = parseBasicAuth(header);
    } catch (e) {
      throw challenge((e as Error).message);
    }
    if (!creds) throw challenge('unsupported authorization scheme');
    let identity: Identity;
    try {
      identity = await this.#state.tokens.authenticate(creds, ctx.ip);
    } catch (e) {
      // A locked-out client must see 429 and when to retry, or it retries at once (docker).
      if (e instanceof TooManyAttempts) throw e;
      if (isPurserError(e) && e.status === 429) throw new TooManyAttempts(retryAfterOf(e));
      if (isPurserError(e) && e.status === 401) throw challenge(e.message);
      throw e;
    }
    const decisions = await this.#state.tokens.authorize(identity, this.#service, access.scopes, ctx.ip);
    let mountAllowed = true;
    decisions.forEach((d, i) => {
      const ok = d.requested.actions.every((a) => d.granted.includes(a) || d.granted.includes('*'));
      // Purser decided, and the caller may not pull the source: a plain upload instead.
      if (i === 1 && access.mountFrom) mountAllowed = ok;
      else if (!ok) throw new Denied(DENIED_MESSAGE);
    });
    return {
      account: identity.account,
      mountAllowed,
      provider: identity.provider,
      identity,
      granted: decisions
        .filter((d) => d.granted.length > 0)
        .map((d) => formatScopeWith(d.requested, d.granted)),
      rule: decisions.map((d) => d.rule ?? null),
    };
  }

  async #bearer(
    token: string,
    access: RequiredAccess,
    challenge: (message: string, error?: 'invalid_token' | 'insufficient_scope') => ChallengeError,
  ): Promise<AccessGrant> {
    let v = this.#verified.get(token);
    if (!v) {
      try {
        v = await verifyAccessToken(
          this.#state.keyring,
          token,
          this.#state.config.token.issuer,
          this.#service,
        );
      } catch (e) {
        throw challenge(isPurserError(e) ? e.message : 'invalid token', 'invalid_token');
      }
      this.#verified.set(token, v, v.exp * 1000 + 60_000);
    }
    // Every scope, the mount's source included: like the registry, a token lacking pull on
    // `from` is sent back for it (the client asks for that scope and retries the mount)
    // rather than turned into a plain upload that re-sends a layer the registry has.
    const granted = v.access;
    if (!access.scopes.every((s) => covers(granted, s.type, s.name, s.actions)))
      throw challenge(DENIED_MESSAGE, 'insufficient_scope');
    // Purser's own token: its provider and rules were recorded when it was issued (its jti).
    // The identity it carries (token/proxy-identity.ts) is what tag policy and the catalog decide on.
    return {
      account: v.sub,
      mountAllowed: true,
      provider: 'token',
      jti: v.jti,
      ...(v.identity ? { identity: v.identity } : {}),
    };
  }

  #challenge(realm: string, scopes: readonly Scope[], error?: string): string {
    return bearerChallenge({ realm, service: this.#service, scopes, error });
  }
}

/** Seconds to wait, from a 429 PurserError that carries them (a custom authenticator's). */
function retryAfterOf(e: PurserError): number {
  const r = (e as { retryAfter?: unknown }).retryAfter;
  return typeof r === 'number' && r > 0 ? Math.ceil(r) : 1;
}
