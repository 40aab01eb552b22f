import { z } from 'zod';
import { PurserError } from '../core/errors.js';
import { type Identity, WEBHOOK_PROVIDER } from '../core/identity.js';
import type { Scope } from '../protocol/scope.js';
import type { Logger } from '../util/log.js';
import { shown } from '../util/redact.js';
import { parseAnswer, WebhookCall, type WebhookTransportOptions } from '../util/webhook-call.js';
import { WEBHOOK_API_VERSION, WebhookCallError } from '../util/webhook-client.js';
import type { Authenticator, AuthnContext, AuthnResult, Credentials } from './authenticator.js';

/** The identity part of an answer; the same shape carries labels and groups to the ACL and the authz webhook. */
export const webhookIdentitySchema = z.strictObject({
  // Becomes the token's `sub`: no control characters, bounded like a username.
  account: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^\p{Cc}]+$/u, 'no control characters'),
  labels: z
    .record(
      z.string().regex(/^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a label name is an identifier'),
      z.string().max(1024),
    )
    .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels')
    .optional(),
  groups: z.array(z.string().min(1).max(256)).max(256).optional(),
});

/** What the authentication webhook answers (docs/authentication.md#webhooks). */
export const authnAnswerSchema = z.discriminatedUnion('allowed', [
  z.strictObject({
    apiVersion: z.literal(WEBHOOK_API_VERSION),
    kind: z.literal('AuthnResponse'),
    allowed: z.literal(true),
    identity: webhookIdentitySchema,
  }),
  z.strictObject({
    apiVersion: z.literal(WEBHOOK_API_VERSION),
    kind: z.literal('AuthnResponse'),
    allowed: z.literal(false),
    reason: z.string().max(500).optional(),
  }),
]);

type AuthnAnswer = { allowed: true; identity: Identity } | { allowed: false; reason: string | undefined };

export interface WebhookAuthenticatorOptions extends WebhookTransportOptions {
  logger: Logger;
}

/** A scope as both webhooks' request documents carry it. */
export const scopeDocument = (s: Scope) => ({
  type: s.type,
  name: s.name,
  ...(s.class !== undefined ? { class: s.class } : {}),
  actions: [...s.actions],
});

/**
 * Basic credentials no earlier authenticator claimed, checked by an HTTPS endpoint of the
 * operator's (`webhooks.authn`). It is last in the chain (server/app.ts), so it never sees a
 * static user's password or a provider's JWT. An answer `allowed: false` is a failed login
 * (counted like a wrong password); a webhook that cannot answer is a 503, which is not.
 * Allowed answers are cached for `cacheSeconds`, refusals are not: a user who fixes a
 * password is not locked out by an old answer, and guesses are limited by the failed-login
 * limit.
 */
export class WebhookAuthenticator implements Authenticator {
  readonly kind = 'webhook';
  readonly #call: WebhookCall<AuthnAnswer>;
  readonly #logger: Logger;

  constructor({ logger, ...transport }: WebhookAuthenticatorOptions) {
    this.#logger = logger;
    this.#call = new WebhookCall<AuthnAnswer>({
      ...transport,
      parse: parseAuthnAnswer,
      cacheable: (a) => a.allowed,
      sizeOf: (a) => (a.allowed ? 2 * JSON.stringify(a.identity).length : 64),
    });
  }

  async authenticate(credentials: Credentials, ctx: AuthnContext): Promise<AuthnResult> {
    const document = {
      apiVersion: WEBHOOK_API_VERSION,
      kind: 'AuthnRequest',
      username: credentials.username,
      password: credentials.password.reveal(),
      ...(ctx.service !== undefined ? { service: ctx.service } : {}),
      scopes: (ctx.scopes ?? []).map(scopeDocument),
      ip: ctx.ip,
    };
    let answer: AuthnAnswer;
    try {
      answer = await this.#call.call(document);
    } catch (e) {
      const reason = e instanceof WebhookCallError ? e.message : String(e);
      ctx.trace?.push(`authentication webhook ${this.#call.target}: failed (${reason})`);
      throw new PurserError('UNAVAILABLE', 'the authentication webhook is unavailable; try again shortly', {
        detail: `webhooks.authn ${this.#call.target}: ${reason}`,
        cause: e,
      });
    }
    if (!answer.allowed) {
      ctx.trace?.push(`authentication webhook: refused${answer.reason ? ` (${answer.reason})` : ''}`);
      this.#logger.debug('the authentication webhook refused a login', {
        username: shown(credentials.username),
        reason: answer.reason,
      });
      return { outcome: 'rejected', reason: 'invalid username or password' };
    }
    ctx.trace?.push(`authentication webhook: ${answer.identity.account}`);
    return { outcome: 'authenticated', identity: answer.identity };
  }

  close(): Promise<void> {
    return this.#call.close();
  }
}

function parseAuthnAnswer(raw: unknown): AuthnAnswer {
  const a = parseAnswer(authnAnswerSchema, raw);
  if (!a.allowed) return { allowed: false, reason: a.reason };
  const identity: Identity = {
    account: a.identity.account,
    provider: WEBHOOK_PROVIDER,
    labels: { ...(a.identity.labels ?? {}) },
    claims: {},
    ...(a.identity.groups ? { groups: [...new Set(a.identity.groups)] } : {}),
  };
  return { allowed: true, identity: Object.freeze(identity) };
}
