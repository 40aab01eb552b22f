import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Agent } from 'undici';
import type { Identity } from '../authn/identity.js';
import type { ProxyConfig } from '../config/load.js';
import { isPurserError } from '../errors.js';
import { bearerChallenge, errorBody } from '../protocol/responses.js';
import { formatScope, type Scope } from '../protocol/scope.js';
import { parseBasicAuth } from '../protocol/token-request.js';
import type { AppState } from '../server/app.js';
import { clientIp, type TokenHttpServer } from '../server/http.js';
import { closeServer, listenOn } from '../server/listen.js';
import type { Metrics } from '../server/metrics.js';
import { VerifiedTokenCache } from '../token/verified-cache.js';
import { covers, verifyAccessToken } from '../token/verify-access.js';
import type { Logger } from '../util/log.js';
import { requiredAccess } from './access.js';
import { canonicalTarget, encodePath, splitTarget } from './canonical.js';
import { UPLOAD_RETRY_AFTER, UpstreamCapacity } from './capacity.js';
import { expectsContinue } from './expect.js';
import { forward } from './forward.js';
import { formatGoQuery } from './go-query.js';
import { createUpstreamAuth, type UpstreamAuth } from './upstream-auth.js';

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'docker-distribution-api-version': 'registry/2.0',
};

class ProxyRefusal extends Error {
  constructor(
    readonly status: 401 | 403 | 429,
    readonly code: 'UNAUTHORIZED' | 'DENIED' | 'TOOMANYREQUESTS',
    message: string,
    readonly challengeError?: 'invalid_token' | 'insufficient_scope',
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** The authenticating registry front end (SPEC §5). */
export class RegistryProxy {
  readonly #cfg: ProxyConfig;
  readonly #token: TokenHttpServer;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #capacity: UpstreamCapacity;
  // Verified bearer tokens (keyed by a hash, bounded in bytes) until they expire, with
  // distribution's 60 s leeway.
  #verified = new VerifiedTokenCache();
  #blobsRedirect = false;
  readonly #agent: Agent;
  #auth: UpstreamAuth;
  #authFor: AppState;
  #externalUrl: string;
  server: Server | undefined;

  constructor(cfg: ProxyConfig, token: TokenHttpServer, logger: Logger, metrics: Metrics) {
    this.#cfg = cfg;
    this.#token = token;
    this.#log = logger.child({ server: 'proxy' });
    this.#metrics = metrics;
    const ca = cfg.upstreamCa ? readFileSync(cfg.upstreamCa, 'utf8') : undefined;
    this.#capacity = new UpstreamCapacity(cfg.upstream, {
      readConnections: cfg.connections,
      uploadConnections: cfg.uploadConnections,
      uploadsPerAccount: cfg.uploadsPerAccount,
      ca,
    });
    metrics.gauge(
      'purser_proxy_uploads_in_flight',
      'Proxied POST/PUT/PATCH requests in flight.',
      () => this.#capacity.uploadsInFlight,
    );
    this.#authFor = token.state;
    // One client for upstream token servers, kept across reloads (with the upstream's CA).
    this.#agent = new Agent(ca ? { connect: { ca } } : {});
    this.#auth = createUpstreamAuth(cfg, token.state.keyring, this.#agent, this.#log);
    this.#externalUrl = cfg.externalUrl ?? `http://${cfg.listen}`;
  }

  get #state(): AppState {
    const s = this.#token.state;
    if (s !== this.#authFor) {
      // The configuration was reloaded: the minted upstream tokens may use another key, and
      // tokens verified under the old keys must be verified again (a key may have been removed).
      this.#authFor = s;
      this.#auth = createUpstreamAuth(this.#cfg, s.keyring, this.#agent, this.#log);
      this.#verified = new VerifiedTokenCache();
    }
    return s;
  }

  handler = (req: IncomingMessage, res: ServerResponse): void => {
    // Until the request is authorised no 100 Continue is sent, so a refused upload never
    // sends its body and the connection cannot be reused.
    if (expectsContinue(req)) res.setHeader('connection', 'close');
    this.#handle(req, res).catch((e: unknown) => {
      if (isPurserError(e) && e.status < 500) return this.#error(res, e.status, e.code, e.message);
      if (isPurserError(e) && e.code === 'UNAVAILABLE')
        return this.#error(res, 503, 'UNAVAILABLE', e.message);
      this.#log.error('unexpected proxy error', {
        error: e instanceof Error ? e.stack : String(e),
        path: req.url,
      });
      if (!res.headersSent) this.#error(res, 500, 'UNKNOWN', 'internal error');
      else res.destroy();
    });
  };

  #error(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { ...JSON_HEADERS, ...headers }).end(errorBody(code, message));
  }

  #challenge(scopes: readonly Scope[] | undefined, error?: string): string {
    return bearerChallenge({
      realm: `${this.#externalUrl}/token`,
      service: this.#cfg.service,
      ...(scopes?.length ? { scope: scopes.map(formatScope).join(' ') } : {}),
      ...(error ? { error } : {}),
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const rawPath = splitTarget(url).path;
    // The token endpoint and JWKS are served on the proxy's address too: clients need one host.
    if (
      rawPath === '/token' ||
      rawPath.startsWith('/.well-known/') ||
      rawPath === '/healthz' ||
      rawPath === '/readyz'
    ) {
      if (expectsContinue(req)) {
        res.removeHeader('connection');
        res.writeContinue();
      }
      return this.#token.handler(req, res);
    }
    if (!rawPath.startsWith('/v2')) return this.#error(res, 404, 'NOT_FOUND', 'not a registry API path');
    const method = req.method ?? 'GET';
    // Decide on the path and query as the registry will parse them, and forward only those.
    const target = canonicalTarget(url);
    if (!target.ok)
      return this.#error(res, 400, 'UNSUPPORTED', `unsupported request path: ${target.message}`);
    const path = target.path;
    const access = requiredAccess(method, path, target.query, req.headers['content-type']);
    if (access.kind === 'invalid') return this.#error(res, access.status, access.code, access.message);
    const scopes = access.kind === 'scoped' ? access.scopes : [];
    const state = this.#state;
    const ip = clientIp(req, state.config.trustProxy);

    let account: string;
    let allowedMount = true;
    try {
      const r = await this.#authorize(
        req,
        state,
        scopes,
        access.kind === 'scoped' ? access.mountFrom : undefined,
        ip,
      );
      account = r.account;
      allowedMount = r.mountAllowed;
    } catch (e) {
      if (e instanceof ProxyRefusal) {
        const headers: Record<string, string> = {};
        if (e.status === 401) headers['www-authenticate'] = this.#challenge(scopes, e.challengeError);
        if (e.retryAfter) headers['retry-after'] = String(e.retryAfter);
        this.#log.info('proxy request refused', { method, path, ip, status: e.status, reason: e.message });
        return this.#error(res, e.status, e.code, e.message, headers);
      }
      throw e;
    }

    let query = target.query;
    let upstreamScopes = scopes;
    if (access.kind === 'scoped' && access.mountFrom && !allowedMount) {
      // Without pull on the source, do a plain upload instead of the mount, as distribution does.
      query = query.filter(([k]) => k !== 'mount' && k !== 'from');
      upstreamScopes = scopes.slice(0, 1);
    }
    const qs = formatGoQuery(query);
    const forwardPath = encodePath(path) + (qs ? `?${qs}` : '');
    const authorization = await this.#auth.header(upstreamScopes, account);
    // Capacity (capacity.ts): an account's uploads are capped; the slot is held until the
    // client's response is over, however it ends.
    const release = this.#capacity.admit(method, account);
    if (!release) {
      this.#log.info('proxy request refused', {
        method,
        path,
        ip,
        account,
        status: 429,
        reason: 'upload cap',
      });
      return this.#error(res, 429, 'TOOMANYREQUESTS', 'too many uploads in flight for this account', {
        'retry-after': String(UPLOAD_RETRY_AFTER),
      });
    }
    res.once('close', release);
    if (expectsContinue(req)) {
      res.removeHeader('connection');
      res.writeContinue();
    }
    const started = Date.now();
    forward(req, res, this.#capacity.poolFor(method), {
      method,
      path: forwardPath,
      authorization,
      externalUrl: this.#externalUrl,
      upstream: this.#cfg.upstream,
      clientIp: ip,
      rewrite: (status, h) => {
        const loc = h.location;
        if (typeof loc === 'string' && loc.startsWith(this.#cfg.upstream))
          h.location = this.#externalUrl + loc.slice(this.#cfg.upstream.length);
        if (status === 401) h['www-authenticate'] = this.#challenge(scopes);
      },
      fastBlobs: !this.#blobsRedirect,
      onFallback: (reason) => {
        // An upstream on object storage redirects every blob: stop trying the fast path.
        if (/^status 30[1278]$/.test(reason)) this.#blobsRedirect = true;
        this.#log.debug('blob download on the general path', { path, reason });
      },
      onDone: (status, bytes, err) => {
        this.#metrics.proxyRequests.inc({ method, status: `${Math.floor(status / 100)}xx` });
        const rec = { method, path, status, bytes, ms: Date.now() - started, account, ip };
        if (err) this.#log.warn('proxy request failed', { ...rec, reason: err.message });
        else this.#log.info('proxied', rec);
      },
    });
  }

  /** Who the caller is and whether they may do this; throws ProxyRefusal. */
  async #authorize(
    req: IncomingMessage,
    state: AppState,
    scopes: readonly Scope[],
    mountFrom: string | undefined,
    ip: string,
  ): Promise<{ account: string; mountAllowed: boolean }> {
    const header = req.headers.authorization;
    const primary = mountFrom ? scopes.slice(0, 1) : scopes;
    if (!header) {
      throw new ProxyRefusal(401, 'UNAUTHORIZED', 'authentication required');
    }
    if (/^bearer /i.test(header)) {
      const token = header.slice(7).trim();
      let v = this.#verified.get(token);
      if (!v) {
        try {
          v = await verifyAccessToken(state.keyring, token, state.config.token.issuer, this.#cfg.service);
        } catch (e) {
          throw new ProxyRefusal(
            401,
            'UNAUTHORIZED',
            isPurserError(e) ? e.message : 'invalid token',
            'invalid_token',
          );
        }
        this.#verified.set(token, v, v.exp * 1000 + 60_000);
      }
      for (const s of primary) {
        if (!covers(v.access, s.type, s.name, s.actions)) {
          throw new ProxyRefusal(
            401,
            'DENIED',
            'requested access to the resource is denied',
            'insufficient_scope',
          );
        }
      }
      const mountAllowed = mountFrom === undefined || covers(v.access, 'repository', mountFrom, ['pull']);
      return { account: v.sub, mountAllowed };
    }
    let creds: ReturnType<typeof parseBasicAuth>;
    try {
      creds = parseBasicAuth(header);
    } catch (e) {
      throw new ProxyRefusal(401, 'UNAUTHORIZED', (e as Error).message);
    }
    if (!creds) throw new ProxyRefusal(401, 'UNAUTHORIZED', 'unsupported authorization scheme');
    let identity: Identity;
    try {
      identity = await state.tokens.authenticate(creds, ip);
    } catch (e) {
      if (isPurserError(e) && e.status === 429) {
        // A locked-out client must see 429 and when to retry, or it retries at once (docker).
        const retryAfter = (e as { retryAfter?: number }).retryAfter;
        throw new ProxyRefusal(429, 'TOOMANYREQUESTS', e.message, undefined, retryAfter);
      }
      if (isPurserError(e) && e.status === 401) throw new ProxyRefusal(401, 'UNAUTHORIZED', e.message);
      throw e;
    }
    const decisions = await state.authorizer.authorize({ identity, service: this.#cfg.service, scopes, ip });
    let mountAllowed = true;
    decisions.forEach((d, i) => {
      const ok = d.requested.actions.every((a) => d.granted.includes(a) || d.granted.includes('*'));
      if (i === 1 && mountFrom) mountAllowed = ok;
      else if (!ok) throw new ProxyRefusal(403, 'DENIED', 'requested access to the resource is denied');
    });
    return { account: identity.account, mountAllowed };
  }

  async listen(): Promise<URL> {
    // Uploads and downloads of large layers take as long as they take: no request timeout.
    const { server, url } = await listenOn(this.#cfg.listen, this.handler, {
      tls: this.#cfg.tls,
      headersTimeout: this.#cfg.headersTimeout * 1000,
      requestTimeout: 0,
      guard: {
        name: 'proxy',
        maxConnections: this.#cfg.maxConnections,
        bodyIdleMs: this.#cfg.bodyIdleTimeout * 1000,
        log: this.#log,
        onClosed: (reason) => this.#metrics.connectionsClosed.inc({ listener: 'proxy', reason }),
      },
      // One write per upstream read instead of a pause/resume per 64 KiB chunk (bench/proxy).
      highWaterMark: 256 * 1024,
    });
    this.server = server;
    // Uploads with Expect: 100-continue come here instead of 'request': #handle answers 100.
    server.on('checkContinue', this.handler);
    if (!this.#cfg.externalUrl) this.#externalUrl = url.origin;
    return url;
  }

  get externalUrl(): string {
    return this.#externalUrl;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
    await this.#capacity.close();
    await this.#agent.close();
  }
}
