import { type AuditLog, openAuditLog } from '../audit/audit-log.js';
import type { Authenticator } from '../authn/authenticator.js';
import type { Authorizer } from '../authz/authorizer.js';
import { buildConfig, type Config } from '../config/load.js';
import type { ConfigInput } from '../config/schema.js';
import { ConfigError, isPurserError, PurserError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { formatScope, parseScopes, type Scope } from '../protocol/scope.js';
import { closeState, Runtime } from '../runtime/runtime.js';
import { pinTickObjectMap } from '../runtime/tick-map-pin.js';
import { type AppState, buildApp } from '../server/app.js';
import { TokenHttpServer } from '../server/http.js';
import { Metrics } from '../server/metrics.js';
import type { TokenResponse } from '../server/token-service.js';
import type { Revocation } from '../state/revocation.js';
import { type Stores, withMemoryStores } from '../state/stores.js';
import type { SigningKey } from '../token/keys.js';
import { createLogger, type Logger } from '../util/log.js';
import { mountableHandler, type PurserHandler } from './handler.js';
import { type SigningKeyInput, toSigningKeys } from './signing-keys.js';

/** What both ways of building Purser take. */
export interface PurserCommonOptions {
  /**
   * Signing keys held in memory. With `config`, its `token.key`/`token.keys` are then left
   * out; the first key signs, all are published in the JWKS.
   */
  signingKeys?: readonly SigningKeyInput[];
  /** Tried before the built-in ones; the first that claims the credentials decides. */
  authenticators?: readonly Authenticator[];
  /**
   * Decides access together with the ACL: chained, the first that decides a scope wins
   * (see `authorizerOrder`); a scope nobody decides gets nothing. Every answer is clamped
   * to what was requested.
   */
  authorizer?: Authorizer;
  /** Where `authorizer` sits in the chain: `before-acl` (default) or `after-acl`. */
  authorizerOrder?: 'before-acl' | 'after-acl';
  /**
   * State kept between requests and across reloads: failed-login counts, revoked refresh
   * tokens, JWTs seen (`replay: once`), the login cache. Each left out is kept in memory.
   * Purser does not close stores given here.
   */
  stores?: Partial<Stores>;
  /** Where log lines go; default JSON lines on stdout at level `warn`. */
  logger?: Logger;
  /** The counters `/metrics` renders; pass your own to share them. */
  metrics?: Metrics;
  /** Where audit events go; default: the configuration's `audit:` (none without it). */
  audit?: AuditLog;
}

/** Purser from an object of the configuration file's schema. */
export interface PurserConfigOptions extends PurserCommonOptions {
  config: ConfigInput | Record<string, unknown>;
  /** Relative paths in `config` (htpasswd, key files) are relative to this; default `process.cwd()`. */
  baseDir?: string;
}

/** Purser from parts, without a configuration object. */
export interface PurserPartsOptions extends PurserCommonOptions {
  /** The `iss` of issued tokens: the registry's `auth.token.issuer`. */
  issuer: string;
  /** The registry's `auth.token.service` name(s); a request without `service` gets the first. */
  services: string | readonly string[];
  signingKeys: readonly SigningKeyInput[];
  /** ACL rules in the file's `acl:` form; needed unless `authorizer` decides. */
  acl?: readonly Record<string, unknown>[];
}

export type PurserOptions = PurserConfigOptions | PurserPartsOptions;

/** Options of {@link Purser.issue}. */
export interface IssueOptions {
  /** The service the token is for; default the first configured one. */
  service?: string;
  /**
   * Also issue a refresh token: by the first authenticator whose `refreshLifetime` is above
   * 0 for the identity (none when no authenticator gives it one).
   */
  offline?: boolean;
  /** The client address the authorizer sees; default `""`. */
  ip?: string;
}

/** A running token server you mount in your own HTTP server. */
export interface Purser {
  /** node:http handler and express middleware; mount it under any prefix. */
  readonly handler: PurserHandler;
  /**
   * Signs a token for an identity you authenticated yourself, through the same authorizer
   * and signer as the token endpoint: the same JSON object as `GET /token` answers.
   * Scopes are `type:name:actions` strings or parsed scopes.
   */
  issue(
    identity: Identity,
    scopes: readonly (string | Scope)[],
    options?: IssueOptions,
  ): Promise<TokenResponse>;
  /**
   * Validates a new configuration whole and swaps it in atomically (requests in flight
   * finish on the old one). Throws a ConfigError when it is invalid; the old one keeps
   * serving. The keys, authenticators and authorizer given to createPurser stay.
   */
  reload(config: ConfigInput | Record<string, unknown>): Promise<void>;
  /** Revokes refresh tokens (by `jti`, or all of an account's or a provider's issued before a time). */
  revoke(revocation: Revocation): Promise<void>;
  /**
   * Stops being ready, lets requests in flight finish, closes everything it opened and calls
   * `close()` of the authenticators given to createPurser.
   */
  close(): Promise<void>;
  /** True from creation until close(). */
  readonly ready: boolean;
}

function partsConfig(o: PurserPartsOptions): Record<string, unknown> {
  if (!o.acl && !o.authorizer) {
    throw new ConfigError(undefined, 'acl', 'give acl rules or an authorizer: nothing would decide access');
  }
  return {
    token: { issuer: o.issuer, service: typeof o.services === 'string' ? o.services : [...o.services] },
    // The schema wants a rule; with only an authorizer it never runs, and denies if it did.
    acl: o.acl ? [...o.acl] : [{ match: {}, actions: [] }],
  };
}

/**
 * Builds Purser from a configuration object or from parts.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createPurser } from 'purser';
 * const purser = await createPurser({
 *   issuer: 'my-auth', services: 'registry.local', signingKeys: [pem],
 *   authenticators: [myUsers], acl: [{ match: { account: '*' }, actions: ['pull'] }],
 * });
 * createServer(purser.handler).listen(5001);
 * ```
 * @throws ConfigError when the configuration is invalid; PurserError `INVALID_KEY` for a bad key.
 */
export async function createPurser(options: PurserOptions): Promise<Purser> {
  // A process-wide V8 quirk that slows every nextTick once it strikes (runtime/tick-map-pin.ts).
  pinTickObjectMap();
  const logger = options.logger ?? createLogger({ level: 'warn' });
  const metrics = options.metrics ?? new Metrics();
  const baseDir = 'config' in options ? (options.baseDir ?? process.cwd()) : process.cwd();
  const keys: SigningKey[] | undefined = options.signingKeys
    ? await toSigningKeys(options.signingKeys)
    : undefined;
  // Built once: the stores outlive every reload.
  const stores = withMemoryStores(options.stores);
  const compile = async (
    input: unknown,
    previous: AppState | undefined,
    withoutAcl = false,
  ): Promise<AppState> => {
    const config: Readonly<Config> = buildConfig(input, undefined, baseDir, {
      keysGiven: keys !== undefined,
    });
    try {
      return await buildApp(config, logger, metrics, {
        ...(options.authenticators ? { authenticators: [...options.authenticators] } : {}),
        ...(options.authorizer ? { authorizer: options.authorizer } : {}),
        ...(options.authorizerOrder ? { authorizerOrder: options.authorizerOrder } : {}),
        withoutAcl,
        stores,
        ...(keys ? { signingKeys: keys } : {}),
        ...(previous ? { previous } : {}),
      });
    } catch (e) {
      // A key file that cannot be used is as much a configuration problem as a bad key path.
      if (isPurserError(e) && !(e instanceof ConfigError)) throw new ConfigError(undefined, '', e.message);
      throw e;
    }
  };

  // From parts without acl rules, only the authorizer decides (partsConfig's rule is a
  // placeholder); a configuration given to reload() brings its own rules.
  const initial =
    'config' in options
      ? await compile(options.config, undefined)
      : await compile(partsConfig(options), undefined, !options.acl);
  // One sink for the instance's life: `audit:` is read at creation, as `serve` reads it at start.
  const ownAudit = options.audit
    ? undefined
    : openAuditLog(initial.config.audit, { onDrop: () => metrics.auditDropped.inc() });
  const audit = options.audit ?? ownAudit;
  let runtime: Runtime | undefined;
  const server = new TokenHttpServer(initial, logger, metrics, {
    ready: () => runtime?.ready ?? false,
    ...(audit ? { audit } : {}),
  });
  runtime = new Runtime(initial, (state) => server.setState(state));
  const rt = runtime;
  let reloading = Promise.resolve();

  return {
    handler: mountableHandler(server, rt),
    get ready() {
      return rt.ready;
    },
    async issue(identity, scopes, opts = {}) {
      // Through the endpoint's parser, objects too: the same grammar, limits and merging.
      const parsed = parseScopes(scopes.map((s) => (typeof s === 'string' ? s : formatScope(s))));
      return rt.run(async (state) => {
        const service = state.tokens.resolveService(opts.service);
        const out = await state.tokens.grant(identity, service, parsed, opts.ip ?? '', opts.offline ?? false);
        return out.response;
      });
    },
    reload(config) {
      // One reload at a time, each built on the state before it.
      const next = reloading.then(async () => {
        if (rt.closed) throw new PurserError('UNAVAILABLE', 'purser is closed');
        const state = await compile(config, rt.state);
        if (rt.closed) {
          await closeState(state);
          throw new PurserError('UNAVAILABLE', 'purser is closed');
        }
        rt.swap(state);
      });
      reloading = next.catch(() => {});
      return next;
    },
    revoke(revocation) {
      return stores.revocation.revoke(revocation);
    },
    async close() {
      await reloading;
      await rt.close();
      await Promise.all((options.authenticators ?? []).map((a) => a.close?.()));
      await ownAudit?.close();
    },
  };
}
