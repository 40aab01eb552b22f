import { z } from 'zod';
import { scopeDocument } from '../authn/webhook.js';
import type { Identity } from '../core/identity.js';
import type { Logger } from '../util/log.js';
import { parseAnswer, WebhookCall, type WebhookTransportOptions } from '../util/webhook-call.js';
import { WEBHOOK_API_VERSION, WebhookCallError } from '../util/webhook-client.js';
import type { AccessRequest, Authorizer, ScopeAnswer } from './authorizer.js';

/** What the authorization webhook answers (docs/authorization.md#webhooks). */
export const authzAnswerSchema = z.strictObject({
  apiVersion: z.literal(WEBHOOK_API_VERSION),
  kind: z.literal('AuthzResponse'),
  scopes: z
    .array(
      z.strictObject({
        type: z.string().max(255),
        name: z.string().max(255),
        class: z.string().max(255).optional(),
        // null: no decision, the next authorizer of the chain (the ACL) decides.
        actions: z.array(z.string().max(32)).max(16).nullable(),
        reason: z.string().max(500).optional(),
      }),
    )
    .max(128),
});

type AuthzAnswer = z.output<typeof authzAnswerSchema>['scopes'];

export interface WebhookAuthorizerOptions extends WebhookTransportOptions {
  /** Claims of a provider's identity sent along, by name. */
  claims: readonly string[];
  logger: Logger;
}

/**
 * Access decided by an HTTPS endpoint of the operator's (`webhooks.authz`), as one member of
 * the authorizer chain (authz/chain.ts): per scope it grants actions (an empty list denies)
 * or answers `actions: null` to leave the scope to the ACL. Its answers are clamped like any
 * authorizer's, so it cannot add a scope or an action. It sees the verified identity and
 * the chosen claims, never a password or a token. A webhook that cannot answer, or answers
 * something malformed, fails closed: no access to any scope it was asked about, and a log
 * line naming it.
 */
export class WebhookAuthorizer implements Authorizer {
  readonly #call: WebhookCall<AuthzAnswer>;
  readonly #claims: readonly string[];
  readonly #logger: Logger;

  constructor({ claims, logger, ...transport }: WebhookAuthorizerOptions) {
    this.#claims = claims;
    this.#logger = logger;
    this.#call = new WebhookCall<AuthzAnswer>({
      ...transport,
      parse: parseAuthzAnswer,
      sizeOf: (a) => 2 * JSON.stringify(a).length,
    });
  }

  #identityDocument(identity: Identity) {
    const claims: Record<string, unknown> = {};
    for (const name of this.#claims)
      if (Object.hasOwn(identity.claims, name)) claims[name] = identity.claims[name];
    return {
      account: identity.account,
      provider: identity.provider,
      labels: { ...identity.labels },
      groups: [...(identity.groups ?? [])],
      claims,
    };
  }

  async authorize(req: AccessRequest): Promise<ScopeAnswer[]> {
    if (req.scopes.length === 0) return [];
    const document = {
      apiVersion: WEBHOOK_API_VERSION,
      kind: 'AuthzRequest',
      identity: this.#identityDocument(req.identity),
      service: req.service,
      ip: req.ip,
      scopes: req.scopes.map(scopeDocument),
    };
    let answer: AuthzAnswer;
    try {
      answer = await this.#call.call(document);
    } catch (e) {
      const reason = e instanceof WebhookCallError ? e.message : String(e);
      this.#logger.warn('the authorization webhook failed; no access to the scopes it was asked', {
        webhook: 'webhooks.authz',
        url: this.#call.target,
        reason,
      });
      return req.scopes.map((s) => ({
        requested: s,
        granted: [],
        rule: undefined,
        explanation: `the authorization webhook failed (${reason}): nothing granted`,
      }));
    }
    // Position and shape are the clamp's business (authz/clamp.ts): it matches each answer to
    // a requested scope by resource and drops what was not asked.
    return answer.map((a) => ({
      requested: {
        type: a.type,
        name: a.name,
        ...(a.class !== undefined ? { class: a.class } : {}),
        actions: [],
      },
      ...(a.actions === null
        ? { granted: undefined, explanation: `the authorization webhook left it undecided${why(a.reason)}` }
        : {
            granted: a.actions,
            rule: undefined,
            explanation: `the authorization webhook grants [${a.actions.join(', ')}]${why(a.reason)}`,
          }),
    })) as ScopeAnswer[];
  }

  close(): Promise<void> {
    return this.#call.close();
  }
}

const why = (reason: string | undefined) => (reason ? `: ${reason}` : '');

function parseAuthzAnswer(raw: unknown): AuthzAnswer {
  return parseAnswer(authzAnswerSchema, raw).scopes;
}
