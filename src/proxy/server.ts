import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Agent } from 'undici';
import { decideTag, type TagRule, tagRuleLabel } from '../authz/tag-policy.js';
import type { ProxyConfig } from '../config/load.js';
import {
  ChallengeError,
  Denied,
  isPurserError,
  PurserError,
  type PurserErrorCode,
  RegistryRefusal,
  TooManyUploads,
} from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { writeError } from '../http/error-response.js';
import { closeServer, listenOn } from '../http/listen.js';
import { bearerChallenge } from '../protocol/responses.js';
import { formatScope, type Scope } from '../protocol/scope.js';
import type { AppState } from '../server/app.js';
import { clientIp, type TokenHttpServer } from '../server/http.js';
import type { Metrics } from '../server/metrics.js';
import { derivedSecret } from '../token/fingerprint-key.js';
import type { Logger } from '../util/log.js';
import { readPemValue } from '../util/pem-value.js';
import { requiredAccess } from './access.js';
import { type AccessController, type AccessGrant, TokenAccessController } from './access-controller.js';
import { canonicalTarget, encodePath, splitTarget } from './canonical.js';
import { UPLOAD_RETRY_AFTER, UpstreamCapacity } from './capacity.js';
import { CursorSeal, fetchCatalogPage, filteredCatalog, parseCatalogQuery } from './catalog.js';
import { expectsContinue } from './expect.js';
import { forward } from './forward.js';
import { formatGoQuery, type QueryPairs } from './go-query.js';
import { digestLike, existingTagDigest, ManifestBuffers } from './immutable-tag.js';
import { createUpstreamAuth, type UpstreamAuth } from './upstream-auth.js';

/** Every answer of the registry API carries it; clients check it on errors too. */
const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' } as const;

/** Where the proxy's compiled state comes from, and news of its replacement (the Runtime). */
export interface StateSource {
  readonly state: AppState;
  /** Calls `listener` with each new state; returns the unsubscribe function. */
  onGeneration(listener: (state: AppState) => void): () => void;
  /** Holds the current state open until the returned function is called. */
  enter(): () => void;
}

/** The authenticating registry front end (SPEC §5). */
export class RegistryProxy {
  readonly #cfg: ProxyConfig;
  readonly #token: TokenHttpServer;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #capacity: UpstreamCapacity;
  /** Manifest bodies read for immutable tags, bounded in bytes across requests. */
  readonly #manifests = new ManifestBuffers();
  #blobsRedirect = false;
  readonly #agent: Agent;
  readonly #unsubscribe: () => void;
  readonly #enter: () => () => void;
  /** What requests now start on; replaced as a whole when the state is. */
  #current: { state: AppState; auth: UpstreamAuth; access: AccessController };
  #externalUrl: string;
  server: Server | undefined;

  constructor(
    cfg: ProxyConfig,
    token: TokenHttpServer,
    states: StateSource,
    logger: Logger,
    metrics: Metrics,
  ) {
    this.#cfg = cfg;
    this.#token = token;
    this.#log = logger.child({ server: 'proxy' });
    this.#metrics = metrics;
    const ca = cfg.upstreamCa ? readPemValue(cfg.upstreamCa) : undefined;
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
    // One client for upstream token servers, kept across reloads (with the upstream's CA).
    this.#agent = new Agent(ca ? { connect: { ca } } : {});
    this.#current = this.#derive(states.state);
    this.#enter = () => states.enter();
    // A reload: minted upstream tokens may use another key, and tokens verified under the
    // old keys must be verified again (a key may have been removed).
    this.#unsubscribe = states.onGeneration((state) => {
      this.#current = this.#derive(state);
    });
    this.#externalUrl = cfg.externalUrl ?? `http://${cfg.listen}`;
  }

  #derive(state: AppState): { state: AppState; auth: UpstreamAuth; access: AccessController } {
    return {
      state,
      auth: createUpstreamAuth(this.#cfg, state.keyring, this.#agent, this.#log),
      access: new TokenAccessController(state, this.#cfg.service),
    };
  }

  handler = (req: IncomingMessage, res: ServerResponse): void => {
    // Until the request is authorised no 100 Continue is sent, so a refused upload never
    // sends its body and the connection cannot be reused.
    if (expectsContinue(req)) res.setHeader('connection', 'close');
    // The state this request starts on stays open until its response is over.
    res.once('close', this.#enter());
    this.#handle(req, res).catch((e: unknown) => {
      if (isPurserError(e) && (e.status < 500 || e.code === 'UNAVAILABLE')) return this.#error(res, e);
      this.#log.error('unexpected proxy error', {
        error: e instanceof Error ? e.stack : String(e),
        path: req.url,
      });
      this.#error(res, new PurserError('UNKNOWN', 'internal error'));
    });
  };

  /** The one error writer, in distribution's dialect; a response already started is cut. */
  #error(res: ServerResponse, e: PurserError): void {
    if (res.headersSent) return void res.destroy();
    writeError(res, e, { realm: this.#realm, oauth: false, registry: true, headers: API_VERSION });
  }

  get #realm(): string {
    return `${this.#externalUrl}/token`;
  }

  #challenge(scopes: readonly Scope[]): string {
    return bearerChallenge({ realm: this.#realm, service: this.#cfg.service, scopes });
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
    if (!rawPath.startsWith('/v2'))
      return this.#error(res, new PurserError('NOT_FOUND', 'not a registry API path'));
    const method = req.method ?? 'GET';
    // Decide on the path and query as the registry will parse them, and forward only those.
    const target = canonicalTarget(url);
    if (!target.ok)
      return this.#error(
        res,
        new RegistryRefusal('INVALID_REQUEST', 'UNSUPPORTED', `unsupported request path: ${target.message}`),
      );
    const path = target.path;
    const access = requiredAccess(method, path, target.query, req.headers['content-type']);
    if (access.kind === 'invalid') return this.#error(res, routeRefusal(access));
    const scopes = access.kind === 'scoped' ? access.scopes : [];
    // The request keeps the state it started on, whatever a reload does meanwhile.
    const { state, auth, access: controller } = this.#current;
    const ip = clientIp(req, state.config.trustProxy);

    let account: string;
    let grant: AccessGrant;
    let allowedMount = true;
    try {
      const r = await controller.authorized(
        req,
        { scopes, mountFrom: access.kind === 'scoped' ? access.mountFrom : undefined },
        { ip, realm: this.#realm },
      );
      grant = r;
      account = r.account;
      allowedMount = r.mountAllowed;
    } catch (e) {
      if (isPurserError(e) && e.status < 500) {
        this.#log.info('proxy request refused', { method, path, ip, status: e.status, reason: e.message });
        this.#audit({ ip, method, path, scopes }, undefined, 'denied', e.status, e.message);
        return this.#error(res, e);
      }
      throw e;
    }

    const refuse = (e: PurserError) => {
      this.#log.info('proxy request refused', {
        method,
        path,
        ip,
        account,
        status: e.status,
        reason: e.message,
      });
      this.#audit({ ip, method, path, scopes }, grant, 'denied', e.status, e.message);
      this.#error(res, e);
    };
    if (path === '/v2/_catalog')
      return this.#catalog(req, res, { state, auth, grant, ip, query: target.query });

    // proxy.tags (authz/tag-policy.ts), on the tag distribution will act on (access.ts).
    let immutable: TagRule | undefined;
    const tag = access.kind === 'scoped' ? access.tag : undefined;
    const repository = access.kind === 'scoped' ? access.repository : undefined;
    if (tag !== undefined && repository !== undefined && state.compiled.tagRules.length > 0) {
      let identity: Identity;
      try {
        identity = this.#identityOf(grant, scopes);
      } catch (e) {
        return refuse(e as ChallengeError);
      }
      const d = decideTag(state.compiled.tagRules, {
        identity,
        repository,
        tag,
        action: method === 'PUT' ? 'push' : 'delete',
        service: this.#cfg.service,
        ip,
      });
      if (d.kind === 'deny') return refuse(new Denied(d.message));
      if (d.immutable && method === 'PUT') immutable = d.rule;
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
    const authorization = await auth.header(upstreamScopes, account);
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
      this.#audit({ ip, method, path, scopes }, grant, 'denied', 429, 'upload cap');
      return this.#error(res, new TooManyUploads(UPLOAD_RETRY_AFTER));
    }
    res.once('close', release);
    if (expectsContinue(req)) {
      res.removeHeader('connection');
      res.writeContinue();
    }
    let body: Buffer | undefined;
    if (immutable && repository !== undefined && tag !== undefined) {
      const existing = await existingTagDigest(
        this.#capacity.poolFor('HEAD'),
        encodePath(path),
        await auth.header([{ type: 'repository', name: repository, actions: ['pull'] }], account),
      );
      if (existing !== undefined) {
        // The body decides: the same manifest again is accepted, another one refused.
        try {
          body = await this.#manifests.read(req, (free) => res.once('close', free));
        } catch (e) {
          // The rest of the body is not read: the connection cannot carry another request.
          res.setHeader('connection', 'close');
          throw e;
        }
        if (digestLike(existing, body) !== existing)
          return refuse(new Denied(`tag ${tag} is immutable (${tagRuleLabel(immutable)})`));
      }
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
      ...(body ? { body } : {}),
      onFallback: (reason) => {
        // An upstream on object storage redirects every blob: stop trying the fast path.
        if (/^status 30[1278]$/.test(reason)) this.#blobsRedirect = true;
        this.#log.debug('blob download on the general path', { path, reason });
      },
      onDone: (status, bytes, err) => {
        this.#metrics.proxyRequests.inc({ method, status: `${Math.floor(status / 100)}xx` });
        this.#metrics.proxyUpstreamDuration.observe((Date.now() - started) / 1000);
        if (bytes > 0) this.#metrics.proxyBytes.inc({ direction: 'download' }, bytes);
        const sent = Number(req.headers['content-length']);
        if (Number.isSafeInteger(sent) && sent > 0 && status < 400)
          this.#metrics.proxyBytes.inc({ direction: 'upload' }, sent);
        this.#audit({ ip, method, path, scopes }, grant, 'proxied', status);
        const rec = { method, path, status, bytes, ms: Date.now() - started, account, ip };
        if (err) this.#log.warn('proxy request failed', { ...rec, reason: err.message });
        else this.#log.info('proxied', rec);
      },
    });
  }

  /**
   * The caller's identity for a decision beyond the token's scopes (tag policy, the
   * catalog). A Bearer token without one (issued before proxy.tags or by an older Purser) is
   * sent back for a new token, which carries it (token/proxy-identity.ts).
   */
  #identityOf(grant: AccessGrant, scopes: readonly Scope[]): Identity {
    if (grant.identity) return grant.identity;
    throw new ChallengeError(
      'this token carries no identity for the proxy policy: ask for a new one',
      bearerChallenge({ realm: this.#realm, service: this.#cfg.service, scopes, error: 'invalid_token' }),
    );
  }

  /** `/v2/_catalog`, filtered to the repositories the caller may pull (catalog.ts). */
  async #catalog(
    req: IncomingMessage,
    res: ServerResponse,
    c: { state: AppState; auth: UpstreamAuth; grant: AccessGrant; ip: string; query: QueryPairs },
  ): Promise<void> {
    const { state, auth, grant, ip } = c;
    const method = req.method ?? 'GET';
    const path = '/v2/_catalog';
    const scopes: Scope[] = [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    const started = Date.now();
    let answer: Awaited<ReturnType<typeof filteredCatalog>>;
    try {
      const identity = this.#identityOf(grant, scopes);
      const seal = new CursorSeal(derivedSecret(state.keyring.signer.key, 'catalog cursor'));
      const request = parseCatalogQuery(c.query, seal);
      const pool = this.#capacity.poolFor('GET');
      answer = await filteredCatalog(
        request,
        {
          fetchPage: async (last, n) =>
            fetchCatalogPage(pool, last, n, await auth.header(scopes, grant.account)),
          permitted: async (names) => {
            const decisions = await state.tokens.authorize(
              identity,
              this.#cfg.service,
              names.map((name) => ({ type: 'repository', name, actions: ['pull'] })),
              ip,
            );
            return decisions.map((d) => d.granted.includes('pull') || d.granted.includes('*'));
          },
        },
        seal,
      );
    } catch (e) {
      if (isPurserError(e) && e.status < 500) {
        this.#log.info('proxy request refused', { method, path, ip, status: e.status, reason: e.message });
        this.#audit({ ip, method, path, scopes }, grant, 'denied', e.status, e.message);
      }
      throw e;
    }
    const json = JSON.stringify({ repositories: answer.repositories });
    res.writeHead(200, {
      ...API_VERSION,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
      ...(answer.link ? { link: answer.link } : {}),
    });
    res.end(method === 'HEAD' ? undefined : json);
    this.#metrics.proxyRequests.inc({ method, status: '2xx' });
    this.#audit({ ip, method, path, scopes }, grant, 'proxied', 200);
    this.#log.info('proxied', {
      method,
      path,
      status: 200,
      repositories: answer.repositories.length,
      ms: Date.now() - started,
      account: grant.account,
      ip,
    });
  }

  /** One audit event for a proxy decision; `grant` is absent when access was refused. */
  #audit(
    req: { ip: string; method: string; path: string; scopes: readonly Scope[] },
    grant: AccessGrant | undefined,
    outcome: 'proxied' | 'denied',
    status: number,
    reason?: string,
  ): void {
    const audit = this.#token.audit;
    if (!audit) return;
    const requested = req.scopes.map(formatScope);
    audit.record({
      ip: req.ip,
      account: grant?.account ?? '',
      provider: grant?.provider ?? '',
      ...(grant?.identity ? { identity: grant.identity } : {}),
      requested,
      // A Bearer token covering every scope: what was needed is what it granted here.
      granted: grant ? (grant.granted ?? requested) : [],
      rule: grant?.rule ?? [],
      ...(grant?.jti ? { jti: grant.jti } : {}),
      outcome,
      status,
      ...(reason ? { reason } : {}),
      method: req.method,
      path: req.path,
    });
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
    this.#unsubscribe();
    await closeServer(this.server);
    await this.#capacity.close();
    await this.#agent.close();
  }
}

/** The answer for a request access.ts refuses, with distribution's code. */
function routeRefusal(a: { status: number; code: string; message: string }): PurserError {
  const code: PurserErrorCode =
    a.status === 404 ? 'NOT_FOUND' : a.status === 405 ? 'UNSUPPORTED' : 'INVALID_REQUEST';
  return new RegistryRefusal(code, a.code, a.message);
}
