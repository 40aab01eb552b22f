import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isPurserError, PurserError } from '../errors.js';
import { basicChallenge, errorBody } from '../protocol/responses.js';
import { formatScope, type Scope } from '../protocol/scope.js';
import { splitTarget } from '../protocol/target.js';
import { parseGetTokenRequest, parsePostTokenRequest, type TokenRequest } from '../protocol/token-request.js';
import type { Logger } from '../util/log.js';
import type { AppState } from './app.js';
import { closeServer, listenOn } from './listen.js';
import type { Metrics } from './metrics.js';

const MAX_FORM_BYTES = 64 * 1024;
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

/** Reads a small request body, refusing more than `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new PurserError('INVALID_REQUEST', `request body larger than ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Answer 400 rather than reset the connection; the rest of the body is discarded.
        req.off('data', onData);
        req.resume();
        reject(new PurserError('INVALID_REQUEST', `request body larger than ${limit} bytes`));
      } else chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // A client that goes away mid-body is a bad request, not a server error.
    req.on('error', () => reject(new PurserError('INVALID_REQUEST', 'request body aborted')));
  });
}

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
  server: Server | undefined;

  constructor(state: AppState, logger: Logger, metrics: Metrics) {
    this.#state = state;
    this.#log = logger;
    this.#metrics = metrics;
  }

  get state(): AppState {
    return this.#state;
  }

  /** Swaps in a new configuration (hot reload); requests in flight finish on the old one. */
  setState(state: AppState): void {
    this.#state = state;
  }

  handler = (req: IncomingMessage, res: ServerResponse): void => {
    this.#route(req, res).catch((e: unknown) => {
      // Anything reaching here is a bug; answer 500 without detail and keep serving.
      this.#log.error('unexpected error', { error: e instanceof Error ? e.stack : String(e), path: req.url });
      if (!res.headersSent) {
        res.writeHead(500, JSON_HEADERS).end(errorBody('UNKNOWN', 'internal error'));
      } else res.destroy();
    });
  };

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Origin-form or absolute-form (RFC 9112 §3.2.2); the authority plays no part in routing.
    const { path, rawQuery } = splitTarget(req.url ?? '/');
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
        if (this.#ready) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else res.writeHead(503, { 'content-type': 'text/plain' }).end('not ready\n');
        return;
      case '/metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.#metrics.render());
        return;
      default:
        res
          .writeHead(404, JSON_HEADERS)
          .end(errorBody('NOT_FOUND', `no route for ${method} ${path.slice(0, 200)}`));
    }
  }

  #methodNotAllowed(res: ServerResponse, allow: string): void {
    res
      .writeHead(405, { ...JSON_HEADERS, allow })
      .end(errorBody('UNSUPPORTED', `method not allowed; use ${allow}`));
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
        const body = await readBody(req, MAX_FORM_BYTES);
        parsed = parsePostTokenRequest(new URLSearchParams(body), req.headers.authorization);
      }
      grant = parsed.grant;
      fields.grant_type = parsed.grant === 'get' ? undefined : parsed.grant;
      fields.client_id = parsed.clientId;
      fields.scope = parsed.scopes;
      fields.offline = parsed.offline || undefined;
      const out = await state.tokens.handle(parsed, ip);
      res.writeHead(200, JSON_HEADERS).end(JSON.stringify(out.response));
      // The access log's fields cost time to build: only when the line will be written.
      if (this.#log.enabled('info')) {
        fields.account = out.identity.account;
        fields.provider = out.identity.provider;
        fields.service = out.service;
        fields.granted = out.decisions
          .filter((d) => d.granted.length > 0)
          .map((d) => formatScope({ ...d.requested, actions: d.granted }));
        if (this.#log.enabled('debug')) {
          fields.decisions = out.decisions.map((d) => `${formatScope(d.requested)}: ${d.explanation}`);
        }
        fields.refresh_token_issued = out.response.refresh_token ? true : undefined;
      }
      this.#finish(started, grant, 'ok', 200, fields);
    } catch (e) {
      if (!isPurserError(e)) throw e;
      const headers: Record<string, string> = { ...JSON_HEADERS };
      if (e.code === 'INVALID_REQUEST' && !req.complete) headers.connection = 'close';
      if (e.status === 401) headers['www-authenticate'] = basicChallenge(state.realm);
      const retryAfter = (e as PurserError & { retryAfter?: number }).retryAfter;
      if (retryAfter) headers['retry-after'] = String(retryAfter);
      const body: Record<string, unknown> = { errors: [{ code: e.code, message: e.message }] };
      if (method === 'POST') {
        // OAuth2 clients (containerd) read RFC 6749 §5.2 fields.
        body.error =
          e.status === 401
            ? 'invalid_grant'
            : e.code === 'UNSUPPORTED_GRANT_TYPE'
              ? 'unsupported_grant_type'
              : e.status === 429 || e.status >= 500
                ? 'temporarily_unavailable'
                : 'invalid_request';
        body.error_description = e.message;
      }
      if (!res.destroyed) res.writeHead(e.status, headers).end(JSON.stringify(body));
      fields.error = e.message;
      if (e.detail) fields.detail = e.detail;
      if (parsed?.credentials) fields.account = parsed.credentials.username;
      this.#finish(
        started,
        grant,
        e.status === 401
          ? 'unauthorized'
          : e.status === 429
            ? 'rate_limited'
            : e.status >= 500
              ? 'unavailable'
              : 'bad_request',
        e.status,
        fields,
      );
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
    const scope = fields.scope as Scope[] | undefined;
    const rec = { ...fields, scope: scope?.map(formatScope), status, ms: Math.round(seconds * 1e5) / 100 };
    if (status >= 400) this.#log.warn('token request refused', rec);
    else this.#log.info('token issued', rec);
  }

  /** Starts listening; resolves with the bound URL. */
  async listen(hostPort: string, tls?: { cert: string; key: string }): Promise<URL> {
    const { server, url } = await listenOn(hostPort, this.handler, {
      tls,
      headersTimeout: 10_000,
      requestTimeout: 30_000,
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
