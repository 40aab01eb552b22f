import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/audit-log.js';
import { isPurserError, PurserError } from '../core/errors.js';
import { readForm } from '../http/body.js';
import { errorAnswer, JSON_HEADERS, writeError } from '../http/error-response.js';
import { closeServer, listenOn } from '../http/listen.js';
import { ResponseBatch } from '../http/response-batch.js';
import type { TlsFiles } from '../http/tls-context.js';
import { formatScope, formatScopeWith, type Scope } from '../protocol/scope.js';
import { splitTarget } from '../protocol/target.js';
import { parseGetTokenRequest, parsePostTokenRequest, type TokenRequest } from '../protocol/token-request.js';
import type { Logger } from '../util/log.js';
import type { AppState } from './app.js';
import type { Metrics } from './metrics.js';
import { tokenResponseJson } from './token-response-json.js';

const MAX_FORM_BYTES = 64 * 1024;

export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = req.headers['x-forwarded-for'];
    // The right-most entry is the one our trusted proxy appended; entries left of it are
    // whatever the client claimed.
    const last = (Array.isArray(xff) ? xff.at(-1) : xff)?.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return req.socket.remoteAddress ?? '';
}

/** The token server's HTTP front: routes, body limits, error mapping, access log. */
export class TokenHttpServer {
  #state: AppState;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  #ready = false;
  /** Readiness owned by someone else (the library's runtime), instead of listen(). */
  readonly #readiness: (() => boolean) | undefined;
  readonly #enter: (() => () => void) | undefined;
  // Read at each response: a reload's new limit applies at once.
  readonly #batch = new ResponseBatch(() => this.#state.config.limits.responseBatch);
  server: Server | undefined;

  constructor(
    state: AppState,
    logger: Logger,
    metrics: Metrics,
    options: {
      ready?: () => boolean;
      /**
       * Marks a request as running on the current state until it ends (Runtime.enter); the
       * function it returns must ignore calls after the first.
       */
      enter?: () => () => void;
      /** One event per token decision, whatever the log level. */
      audit?: AuditLog;
    } = {},
  ) {
    this.#state = state;
    this.#log = logger;
    this.#metrics = metrics;
    this.#readiness = options.ready;
    this.#enter = options.enter;
    this.audit = options.audit;
  }

  /** The audit log, shared with the proxy in front of this server. */
  readonly audit: AuditLog | undefined;

  get state(): AppState {
    return this.#state;
  }

  /** Swaps in a new configuration (hot reload); requests in flight finish on the old one. */
  setState(state: AppState): void {
    this.#state = state;
  }

  handler = (req: IncomingMessage, res: ServerResponse): void => {
    // 'close' comes once per response, and the leave function ignores a second call: `on`
    // spares the wrapper `once` makes per request.
    if (this.#enter) res.on('close', this.#enter());
    this.dispatch(req, res, req.url ?? '/');
  };

  /** Answers a request as if its request-target were `target` (a mounted handler's route). */
  dispatch(req: IncomingMessage, res: ServerResponse, target: string): void {
    this.#route(req, res, target).catch((e: unknown) => {
      // Anything reaching here is a bug; answer 500 without detail and keep serving.
      this.#log.error('unexpected error', { error: e instanceof Error ? e.stack : String(e), path: req.url });
      if (!res.headersSent && !this.#batch.holds(res)) {
        writeError(res, new PurserError('UNKNOWN', 'internal error'), {
          realm: this.#state.realm,
          oauth: false,
        });
      } else res.destroy();
    });
  }

  async #route(req: IncomingMessage, res: ServerResponse, target: string): Promise<void> {
    // Origin-form or absolute-form (RFC 9112 §3.2.2); the authority plays no part in routing.
    const { path, rawQuery } = splitTarget(target);
    const method = req.method ?? 'GET';
    if (path === '/token') {
      if (method === 'GET' || method === 'POST') return this.#token(req, res, method, rawQuery);
      return this.#methodNotAllowed(res, 'GET, POST');
    }
    if (method !== 'GET' && method !== 'HEAD') return this.#methodNotAllowed(res, 'GET, HEAD');
    switch (path) {
      case '/.well-known/jwks.json':
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
        res.end(JSON.stringify(this.#state.keyring.jwks()));
        return;
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz':
        if (this.#readiness ? this.#readiness() : this.#ready)
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else res.writeHead(503, { 'content-type': 'text/plain' }).end('not ready\n');
        return;
      case '/metrics':
        this.#metrics.render().then(
          (text) => res.writeHead(200, { 'content-type': this.#metrics.contentType }).end(text),
          (e: unknown) => {
            this.#log.error('metrics collection failed', { error: (e as Error).message });
            writeError(res, new PurserError('UNAVAILABLE', 'metrics collection failed'), {
              realm: this.#state.realm,
              oauth: false,
            });
          },
        );
        return;
      default:
        writeError(res, new PurserError('NOT_FOUND', `no route for ${method} ${path.slice(0, 200)}`), {
          realm: this.#state.realm,
          oauth: false,
        });
    }
  }

  #methodNotAllowed(res: ServerResponse, allow: string): void {
    writeError(res, new PurserError('UNSUPPORTED', `method not allowed; use ${allow}`), {
      realm: this.#state.realm,
      oauth: false,
      headers: { allow },
    });
  }

  async #token(
    req: IncomingMessage,
    res: ServerResponse,
    method: 'GET' | 'POST',
    query: string,
  ): Promise<void> {
    const started = process.hrtime.bigint();
    const state = this.#state;
    const ip = clientIp(req, state.config.trustProxy);
    let parsed: TokenRequest | undefined;
    let grant: string = method === 'GET' ? 'get' : 'unknown';
    const fields: Record<string, unknown> = { method, ip };
    try {
      if (method === 'GET') {
        parsed = parseGetTokenRequest(new URLSearchParams(query), req.headers.authorization);
      } else {
        parsed = parsePostTokenRequest(await readForm(req, MAX_FORM_BYTES), req.headers.authorization);
      }
      grant = parsed.grant;
      fields.grant_type = parsed.grant === 'get' ? undefined : parsed.grant;
      fields.client_id = parsed.clientId;
      fields.scope = parsed.scopes;
      fields.offline = parsed.offline || undefined;
      const out = await state.tokens.handle(parsed, ip);
      this.#batch.end(res, 200, JSON_HEADERS, tokenResponseJson(out.response));
      this.#metrics.tokenRequestsByProvider.inc({ grant, outcome: 'ok', provider: out.identity.provider });
      for (const d of out.decisions)
        for (const action of d.granted) this.#metrics.grantedAction(d.requested.type, action);
      const logged = this.#log.enabled('info');
      // The granted scopes as text: for the audit event and the access log alike.
      const granted =
        this.audit || logged
          ? out.decisions
              .filter((d) => d.granted.length > 0)
              .map((d) => formatScopeWith(d.requested, d.granted))
          : [];
      this.audit?.record({
        ip,
        account: out.identity.account,
        provider: out.identity.provider,
        identity: out.identity,
        requested: out.decisions.map((d) => formatScope(d.requested)),
        granted,
        rule: out.decisions.map((d) => d.rule ?? null),
        jti: out.jti,
        outcome: 'issued',
        status: 200,
      });
      // The access log's fields cost time to build: only when the line will be written.
      if (logged) {
        fields.account = out.identity.account;
        fields.provider = out.identity.provider;
        fields.service = out.service;
        fields.granted = granted;
        if (this.#log.enabled('debug')) {
          fields.decisions = out.decisions.map((d) => `${formatScope(d.requested)}: ${d.explanation}`);
        }
        fields.refresh_token_issued = out.response.refresh_token ? true : undefined;
      }
      this.#finish(started, grant, 'ok', 200, fields);
    } catch (e) {
      if (!isPurserError(e)) throw e;
      // A body left unread would be taken for the next request on this connection.
      const answer = errorAnswer(e, { realm: state.realm, oauth: method === 'POST' });
      if (e.code === 'INVALID_REQUEST' && !req.complete) answer.headers.connection = 'close';
      this.#batch.end(res, answer.status, answer.headers, answer.body);
      fields.error = e.message;
      if (e.detail) fields.detail = e.detail;
      if (parsed?.credentials) fields.account = parsed.credentials.username;
      this.#metrics.tokenRequestsByProvider.inc({ grant, outcome: outcomeOf(e.status), provider: 'none' });
      this.audit?.record({
        ip,
        account: parsed?.credentials?.username ?? '',
        provider: '',
        requested: (parsed?.scopes ?? []).map(formatScope),
        granted: [],
        rule: [],
        outcome: 'refused',
        status: e.status,
        reason: e.message,
      });
      this.#finish(started, grant, outcomeOf(e.status), e.status, fields);
    }
  }

  #finish(
    started: bigint,
    grant: string,
    outcome: string,
    status: number,
    fields: Record<string, unknown>,
  ): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.#metrics.tokenRequests.inc({ grant, outcome });
    this.#metrics.tokenDuration.observe(seconds);
    if (!this.#log.enabled(status >= 400 ? 'warn' : 'info')) return;
    // `fields` is this request's own: completed in place (its keys keep their order).
    const scope = fields.scope as Scope[] | undefined;
    if (scope) fields.scope = scope.map(formatScope);
    fields.status = status;
    fields.ms = Math.round(seconds * 1e5) / 100;
    if (status >= 400) this.#log.warn('token request refused', fields);
    else this.#log.info('token issued', fields);
  }

  /** Starts listening; resolves with the bound URL. */
  async listen(hostPort: string, tls?: TlsFiles): Promise<URL> {
    const limits = this.#state.config.limits;
    const { server, url } = await listenOn(hostPort, this.handler, {
      tls,
      headersTimeout: limits.headersTimeout * 1000,
      // A token request is small: its whole exchange gets 30 s (and at least twice the head's).
      requestTimeout: Math.max(30_000, 2 * limits.headersTimeout * 1000),
      guard: {
        name: 'token',
        maxConnections: limits.maxConnections,
        bodyIdleMs: limits.bodyIdleTimeout * 1000,
        log: this.#log,
        onClosed: (reason) => this.#metrics.connectionsClosed.inc({ listener: 'token', reason }),
      },
    });
    this.server = server;
    this.#ready = true;
    return url;
  }

  async close(): Promise<void> {
    this.#ready = false;
    await closeServer(this.server);
  }
}

function outcomeOf(status: number): string {
  return status === 401
    ? 'unauthorized'
    : status === 429
      ? 'rate_limited'
      : status >= 500
        ? 'unavailable'
        : 'bad_request';
}
