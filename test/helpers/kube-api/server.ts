// The HTTP(S) server: the real REST paths (/api/v1/…, /apis/GROUP/VERSION/…), bearer-token
// authentication, JSON bodies, Status objects for every refusal, watches, the TokenRequest
// subresource, and a bounded record of the calls it served.
import {
  createServer as createHttp,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Socket } from 'node:net';
import { type CallInfo, Faults } from './faults.js';
import { type KubeconfigTarget, kubeconfigOptions, writeKubeconfig } from './kubeconfig.js';
import { findResource, resourceKey } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ObjectStore } from './store.js';
import { selfSignedCert } from './tls.js';
import {
  defaultMinter,
  type RecordedTokenRequest,
  serveTokenRequest,
  type TokenMinter,
} from './token-request.js';
import { ApiError, apiError, type KubeObject, type Status, status } from './types.js';
import { openWatch, type WatchStream } from './watch.js';

export interface KubeApiOptions {
  /** Serve HTTPS with a fresh self-signed certificate (the kubeconfig carries it). Default false. */
  tls?: boolean;
  /** The bearer token clients must send. Default 'kube-api-double-token'. */
  token?: string;
  /** Makes the tokens TokenRequest answers with. */
  mint?: TokenMinter;
}

export interface RecordedRequest {
  /** The user whose bearer token came with it ('' when none matched). */
  user: string;
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: unknown;
  status: number;
  at: Date;
}

/** Calls kept in `requests` (oldest dropped first). */
const REQUEST_LOG_LIMIT = 5000;
const BODY_LIMIT = 3 * 1024 * 1024;

interface Route {
  key: string;
  namespaced: boolean;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string;
}

export class KubeApi {
  readonly store = new ObjectStore();
  readonly faults = new Faults();
  readonly tokenRequests: RecordedTokenRequest[] = [];
  readonly requests: RecordedRequest[] = [];
  /** When set, TokenRequest grants at most this many seconds (the API server may shorten). */
  maxTokenSeconds: number | undefined;
  mint: TokenMinter;
  readonly url: string;
  readonly token: string;
  readonly caPem: string | undefined;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #watches = new Set<WatchStream>();
  readonly #watchesOpened = new Map<string, number>();
  /** Bearer token → user name. */
  readonly #users = new Map<string, string>();

  private constructor(server: Server, url: string, opts: KubeApiOptions, caPem: string | undefined) {
    this.#server = server;
    this.url = url;
    this.token = opts.token ?? 'kube-api-double-token';
    this.#users.set(this.token, 'admin');
    this.mint = opts.mint ?? defaultMinter;
    this.caPem = caPem;
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    server.on('secureConnection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.#status(res, status(500, 'InternalError', String(err)));
        else res.destroy();
      });
    });
  }

  static async start(opts: KubeApiOptions = {}): Promise<KubeApi> {
    const cert = opts.tls ? selfSignedCert() : undefined;
    const server = cert ? createHttps({ cert: cert.cert, key: cert.key }) : createHttp();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    return new KubeApi(server, `${cert ? 'https' : 'http'}://127.0.0.1:${port}`, opts, cert?.cert);
  }

  // ---- client configuration ----

  /** Accepts another bearer token, recorded as `user` (for faults and records per client). */
  addUser(user: string, token = `${user}-token`): string {
    this.#users.set(token, user);
    return token;
  }

  /** The token of `user` (`admin` by default), which must have been added. */
  tokenOf(user = 'admin'): string {
    for (const [t, u] of this.#users) if (u === user) return t;
    throw new Error(`the kube-api double has no user ${user}`);
  }

  target(user = 'admin', namespace?: string): KubeconfigTarget {
    return { url: this.url, token: this.tokenOf(user), caPem: this.caPem, namespace };
  }

  /** For `KubeConfig.loadFromOptions`. */
  kubeconfigOptions(opts: { namespace?: string; user?: string } = {}) {
    return kubeconfigOptions(this.target(opts.user, opts.namespace));
  }

  /** Writes `dir/<file>` (for `KubeConfig.loadFromFile` / `--kubeconfig`); returns its path. */
  writeKubeconfig(dir: string, opts: { namespace?: string; user?: string; file?: string } = {}): string {
    return writeKubeconfig(
      dir,
      this.target(opts.user, opts.namespace),
      opts.file ?? `kubeconfig-${opts.user ?? 'admin'}`,
    );
  }

  // ---- faults and watch control ----

  /** The next watch of `resource` fails: an HTTP status (500 by default), or a 410 if `gone`. */
  failNextWatch(resource: string, opts: { code?: number; message?: string; times?: number } = {}): void {
    const code = opts.code ?? 500;
    this.faults.add(
      { resource, watch: true },
      code,
      code === 410 ? 'Expired' : 'InternalError',
      opts.message ?? 'injected watch failure',
      { times: opts.times },
    );
  }

  /** The next watch of `resource` gets 200 then an ERROR event with a 410 Status, and is closed. */
  goneNextWatch(resource: string, opts: { times?: number } = {}): void {
    this.faults.add({ resource, watch: true }, 410, 'Expired', 'too old resource version: injected', {
      times: opts.times,
      asWatchEvent: true,
    });
  }

  /** Sends an ERROR 410 to the open watches of `resource` and closes them (a compaction under them). */
  expireWatches(resource?: string): number {
    return this.#eachWatch(resource, (w) => {
      w.send({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') });
      w.end();
    });
  }

  /** Destroys the open watch connections of `resource` (all when absent). */
  dropWatches(resource?: string): number {
    return this.#eachWatch(resource, (w) => w.drop());
  }

  /** Ends the open watches cleanly (the API server's watch timeout). */
  endWatches(resource?: string): number {
    return this.#eachWatch(resource, (w) => w.end());
  }

  /** Sends a BOOKMARK at the current revision to the open watches. */
  bookmark(resource?: string): number {
    return this.#eachWatch(resource, (w) => w.bookmark(this.store.revision));
  }

  #eachWatch(resource: string | undefined, f: (w: WatchStream) => void): number {
    const ws = [...this.#watches].filter((w) => resource === undefined || w.resource === resource);
    for (const w of ws) f(w);
    return ws.length;
  }

  /** Watches open now on `resource`. */
  openWatches(resource?: string): number {
    return [...this.#watches].filter((w) => resource === undefined || w.resource === resource).length;
  }

  /** Watches ever opened on `resource` (counts restarts). */
  watchesOpened(resource: string): number {
    return this.#watchesOpened.get(resource) ?? 0;
  }

  /** Non-watch GETs of a collection (lists) seen for `resource`. */
  lists(resource: string): number {
    return this.requests.filter(
      (r) =>
        r.method === 'GET' &&
        r.query.watch !== 'true' &&
        this.#routeKey(r.path) === resource &&
        this.#isCollection(r.path),
    ).length;
  }

  #routeKey(path: string): string | undefined {
    try {
      return this.#route(path)?.key;
    } catch {
      return undefined;
    }
  }

  #isCollection(path: string): boolean {
    try {
      const r = this.#route(path);
      return !!r && r.name === undefined;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    for (const w of [...this.#watches]) w.drop();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  // ---- serving ----

  #route(path: string): Route | undefined {
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (seg[0] === 'api' && seg.length >= 2) {
      group = '';
      version = seg[1]!;
      rest = seg.slice(2);
    } else if (seg[0] === 'apis' && seg.length >= 3) {
      group = seg[1]!;
      version = seg[2]!;
      rest = seg.slice(3);
    } else return undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const def = findResource(group, version, rest[2]!);
      if (!def?.namespaced) return undefined;
      if (rest.length > 5) return undefined;
      return {
        key: resourceKey(def),
        namespaced: true,
        namespace: rest[1],
        name: rest[3],
        subresource: rest[4] ?? '',
      };
    }
    const def = rest[0] ? findResource(group, version, rest[0]) : undefined;
    if (!def || rest.length > 3) return undefined;
    // /api/v1/secrets lists across namespaces; /api/v1/namespaces/NAME is a cluster-scoped get.
    if (def.namespaced && rest.length > 1) return undefined;
    return {
      key: resourceKey(def),
      namespaced: false,
      namespace: undefined,
      name: rest[1],
      subresource: rest[2] ?? '',
    };
  }

  #status(res: ServerResponse, s: Status): void {
    res.writeHead(s.code, { 'content-type': 'application/json' }).end(JSON.stringify(s));
  }

  #json(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  async #body(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > BODY_LIMIT) throw apiError(413, 'RequestEntityTooLarge', 'the request is too large');
      chunks.push(c as Buffer);
    }
    if (size === 0) return undefined;
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw apiError(400, 'BadRequest', 'the body is not JSON');
    }
  }

  #record(r: RecordedRequest): void {
    this.requests.push(r);
    if (this.requests.length > REQUEST_LOG_LIMIT) this.requests.shift();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const query = Object.fromEntries(url.searchParams);
    const method = req.method ?? 'GET';
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    let body: unknown;
    const auth = req.headers.authorization ?? '';
    const user = auth.startsWith('Bearer ') ? (this.#users.get(auth.slice(7)) ?? '') : '';
    const rec: RecordedRequest = {
      user,
      method,
      path: url.pathname,
      query,
      contentType,
      body: undefined,
      status: 200,
      at: new Date(),
    };
    this.#record(rec);
    const answer = (code: number, value: unknown) => {
      rec.status = code;
      this.#json(res, code, value);
    };
    try {
      if (!user) throw apiError(401, 'Unauthorized', 'Unauthorized');
      if (url.pathname === '/version')
        return answer(200, { major: '1', minor: '33', gitVersion: 'v1.33.0-purser-double' });
      if (url.pathname === '/healthz' || url.pathname === '/readyz') {
        rec.status = 200;
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      const route = this.#route(url.pathname);
      if (!route) throw apiError(404, 'NotFound', 'the server could not find the requested resource');
      const watch = query.watch === 'true' || query.watch === '1';
      if (method !== 'GET' && method !== 'DELETE') body = await this.#body(req);
      rec.body = body;
      const call: CallInfo = {
        user,
        method,
        resource: route.key,
        subresource: route.subresource,
        watch,
        namespace: route.namespace,
        name: route.name,
      };
      const fault = this.faults.take(call);
      if (fault && !(watch && fault.asWatchEvent)) throw new ApiError(fault.status);
      await this.#serve(route, method, query, contentType, body, watch, res, answer, fault?.status);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      rec.status = err.status.code;
      this.#status(res, err.status);
    }
  }

  async #serve(
    route: Route,
    method: string,
    query: Record<string, string>,
    contentType: string | undefined,
    body: unknown,
    watch: boolean,
    res: ServerResponse,
    answer: (code: number, value: unknown) => void,
    watchError: Status | undefined,
  ): Promise<void> {
    const { key, namespace: ns, name, subresource } = route;
    const s = this.store;
    const def = s.resource(key).def;
    if (subresource) {
      if (key === 'serviceaccounts' && subresource === 'token' && method === 'POST' && name && ns)
        return answer(
          201,
          await serveTokenRequest(s, ns, name, body, {
            maxSeconds: this.maxTokenSeconds,
            mint: this.mint,
            record: (r) => this.tokenRequests.push(r),
          }),
        );
      throw apiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (def.namespaced && !route.namespaced && (name !== undefined || method !== 'GET'))
      throw apiError(404, 'NotFound', 'the server could not find the requested resource');
    if (name === undefined) {
      if (method === 'GET') {
        const labels = parseLabelSelector(query.labelSelector ?? null);
        const fields = parseFieldSelector(query.fieldSelector ?? null);
        if (watch) {
          this.#watchesOpened.set(key, (this.#watchesOpened.get(key) ?? 0) + 1);
          if (watchError) {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(`${JSON.stringify({ type: 'ERROR', object: watchError })}\n`);
            return;
          }
          const w = openWatch(
            res,
            {
              key,
              r: s.resource(key),
              namespace: ns,
              labels,
              fields,
              resourceVersion: query.resourceVersion ?? '',
              timeoutSeconds: query.timeoutSeconds ? Number(query.timeoutSeconds) : undefined,
            },
            (closed) => this.#watches.delete(closed),
          );
          if (!w.closed) this.#watches.add(w);
          return;
        }
        const list = s.list(key, ns, labels, fields);
        return answer(200, {
          kind: `${def.kind}List`,
          apiVersion: def.group ? `${def.group}/${def.version}` : def.version,
          metadata: { resourceVersion: list.resourceVersion },
          items: list.items,
        });
      }
      if (method === 'POST') return answer(201, s.create(key, ns, body));
      throw apiError(
        405,
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource`,
      );
    }
    switch (method) {
      case 'GET': {
        const o = s.get(key, ns, name);
        if (!o)
          throw apiError(404, 'NotFound', `${def.plural} "${name}" not found`, {
            name,
            kind: def.plural,
            group: def.group,
          });
        return answer(200, o);
      }
      case 'PUT':
        return answer(200, s.replace(key, ns, name, body));
      case 'PATCH':
        return answer(200, s.patch(key, ns, name, contentType ?? '', body));
      case 'DELETE':
        return answer(200, s.delete(key, ns, name));
      default:
        throw apiError(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        );
    }
  }

  // ---- seeding and reading, for tests ----

  create<T extends KubeObject = KubeObject>(
    resource: string,
    namespace: string | undefined,
    obj: unknown,
  ): T {
    return this.store.create<T>(resource, namespace, obj);
  }

  get<T extends KubeObject = KubeObject>(
    resource: string,
    namespace: string | undefined,
    name: string,
  ): T | undefined {
    return this.store.get<T>(resource, namespace, name);
  }
}
