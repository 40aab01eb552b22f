// A small OIDC issuer of our own on 127.0.0.1: discovery, JWKS, RS256/ES256 keys, signing of
// arbitrary claims and headers, key rotation, outages (closed port, 503, hanging), hit counts.
// Used by the OIDC unit and e2e tests; it is a real HTTP server, nothing is mocked.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';

export type IssuerAlg = 'RS256' | 'ES256';

export interface IssuerKey {
  kid: string;
  alg: IssuerAlg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public JWK as published (kid, alg, use set). */
  publicJwk: JWK;
  /** SPKI PEM of the public key. */
  publicPem: string;
}

/** How the issuer answers: normally, 503 to everything, or never (accepts and holds the connection). */
export type IssuerMode = 'up' | 'unavailable' | 'hang';

export interface Hits {
  discovery: number;
  jwks: number;
  /** Every request, including unknown paths. */
  total: number;
  paths: string[];
}

export interface SignOptions {
  /** Key to sign with; default the issuer's current signing key. */
  key?: IssuerKey;
  /** Extra or overriding protected header fields (kid, typ, jku, x5u, jwk, ...). `kid: undefined` drops it. */
  header?: Record<string, unknown>;
}

/** Standard claims are filled in unless given; a claim set to `undefined` is left out. */
export type Claims = Record<string, unknown>;

let kidCounter = 0;
export function randomKid(prefix = 'k'): string {
  return `${prefix}-${(++kidCounter).toString(36)}-${randomBytes(6).toString('hex')}`;
}

export async function makeKey(
  alg: IssuerAlg = 'RS256',
  kid: string = randomKid(alg.toLowerCase()),
): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return {
    kid,
    alg,
    privateKey,
    publicKey,
    publicJwk: { ...jwk, kid, alg, use: 'sig' },
    publicPem: await exportSPKI(publicKey),
  };
}

const b64url = (v: unknown): string =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Signs a JWT with the given key; the header is `{alg, typ: JWT, kid}` plus overrides. */
export async function signWith(
  key: IssuerKey,
  claims: Claims,
  header: Record<string, unknown> = {},
): Promise<string> {
  const h: Record<string, unknown> = { alg: key.alg, typ: 'JWT', kid: key.kid, ...header };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  const payload: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(claims)) if (v !== undefined) payload[k] = v;
  // biome-ignore lint/suspicious/noExplicitAny: jose's header type does not admit arbitrary fields
  return new SignJWT(payload).setProtectedHeader(h as any).sign(key.privateKey);
}

/** An unsigned `alg: none` JWT, built by hand. */
export function unsignedJwt(
  claims: Claims,
  header: Record<string, unknown> = { alg: 'none', typ: 'JWT' },
): string {
  return `${b64url(header)}.${b64url(claims)}.`;
}

/** An HS256 JWT whose HMAC secret is `secret` (e.g. the issuer's public key PEM or JWK JSON). */
export function hmacJwt(
  secret: string | Buffer,
  claims: Claims,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64url({ alg: 'HS256', typ: 'JWT', ...header })}.${b64url(claims)}`;
  const sig = createHmac('sha256', secret).update(input).digest('base64url');
  return `${input}.${sig}`;
}

export const now = (): number => Math.floor(Date.now() / 1000);

export interface IssuerOptions {
  /** Path under the origin the issuer lives at ('' by default: the issuer is http://127.0.0.1:PORT). */
  path?: string;
  /** First key's algorithm. */
  alg?: IssuerAlg;
  /** Publish an ES256 key too. Default true. */
  withEc?: boolean;
  /** Discovery's `issuer` value, when it should differ from the real one (a misconfigured issuer). */
  discoveryIssuer?: string;
  /** jwks_uri in discovery, when it should point elsewhere. */
  jwksUri?: string;
  mode?: IssuerMode;
  port?: number;
}

/**
 * A loopback issuer. `url` is its `iss` (no trailing slash); discovery is at
 * `url/.well-known/openid-configuration`, keys at `url/jwks`.
 */
export class TestIssuer {
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  readonly jwksUri: string;
  /** Published keys, in order. */
  keys: IssuerKey[];
  /** The key `sign` uses by default. */
  current: IssuerKey;
  mode: IssuerMode;
  /** Milliseconds to wait before answering (a slow issuer). */
  delayMs = 0;
  hits: Hits = { discovery: 0, jwks: 0, total: 0, paths: [] };
  readonly #path: string;
  readonly #opts: IssuerOptions;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  private constructor(port: number, keys: IssuerKey[], opts: IssuerOptions) {
    this.port = port;
    this.#path = (opts.path ?? '').replace(/\/$/, '');
    this.origin = `http://127.0.0.1:${port}`;
    this.url = `${this.origin}${this.#path}`;
    this.jwksUri = `${this.url}/jwks`;
    this.keys = keys;
    this.current = keys[0]!;
    this.mode = opts.mode ?? 'up';
    this.#opts = opts;
  }

  static async start(opts: IssuerOptions = {}): Promise<TestIssuer> {
    const keys = [await makeKey(opts.alg ?? 'RS256')];
    if (opts.withEc ?? true) keys.push(await makeKey(opts.alg === 'ES256' ? 'RS256' : 'ES256'));
    const server = createServer();
    const port = await listen(server, opts.port ?? 0);
    const issuer = new TestIssuer(port, keys, opts);
    issuer.#attach(server);
    return issuer;
  }

  #attach(server: Server): void {
    this.#server = server;
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    server.on('request', (req, res) => this.#handle(req, res));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    this.hits.total++;
    this.hits.paths.push(path);
    if (path === `${this.#path}/.well-known/openid-configuration`) this.hits.discovery++;
    else if (path === `${this.#path}/jwks`) this.hits.jwks++;
    if (this.mode === 'hang') return; // never answer; the socket is destroyed on close()
    const answer = (): void => {
      if (this.mode === 'unavailable') {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable\n');
        return;
      }
      if (path === `${this.#path}/.well-known/openid-configuration`) {
        json(res, {
          issuer: this.#opts.discoveryIssuer ?? this.url,
          jwks_uri: this.#opts.jwksUri ?? this.jwksUri,
          id_token_signing_alg_values_supported: ['RS256', 'ES256'],
          response_types_supported: ['id_token'],
          subject_types_supported: ['public'],
        });
      } else if (path === `${this.#path}/jwks`) {
        json(res, this.jwks());
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    };
    if (this.delayMs > 0) setTimeout(answer, this.delayMs);
    else answer();
  }

  /** The JWKS as served. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  /** Publishes a new key (not yet the signing key unless `use` is true). */
  async addKey(alg: IssuerAlg = 'RS256', opts: { kid?: string; use?: boolean } = {}): Promise<IssuerKey> {
    const k = await makeKey(alg, opts.kid);
    this.keys.push(k);
    if (opts.use) this.current = k;
    return k;
  }

  /** Stops publishing a key. */
  removeKey(kid: string): void {
    this.keys = this.keys.filter((k) => k.kid !== kid);
  }

  /** Rotation: a new key becomes the only published (and signing) key. */
  async rotate(alg: IssuerAlg = 'RS256'): Promise<IssuerKey> {
    const k = await makeKey(alg);
    this.keys = [k];
    this.current = k;
    return k;
  }

  /** A published key of this algorithm. */
  keyFor(alg: IssuerAlg): IssuerKey {
    const k = this.keys.find((x) => x.alg === alg);
    if (!k) throw new Error(`issuer publishes no ${alg} key`);
    return k;
  }

  /**
   * Signs claims as this issuer: `iss` = url, `iat` = now, `exp` = now + 300 unless given
   * (a claim given as `undefined` is omitted).
   */
  sign(claims: Claims, opts: SignOptions = {}): Promise<string> {
    const t = now();
    const full: Claims = {
      iss: this.url,
      iat: t,
      exp: t + 300,
      jti: randomBytes(8).toString('hex'),
      ...claims,
    };
    return signWith(opts.key ?? this.current, full, opts.header);
  }

  /**
   * A GitHub Actions ID token: owner/repo from `repository`, `aud` default https://github.com/<owner>.
   */
  github(claims: Claims = {}, opts: SignOptions = {}): Promise<string> {
    const repository = String(claims.repository ?? 'acme/app');
    const owner = repository.split('/')[0]!;
    const ref = String(claims.ref ?? 'refs/heads/main');
    return this.sign(
      {
        sub: `repo:${repository}:ref:${ref}`,
        aud: `https://github.com/${owner}`,
        repository,
        repository_owner: owner,
        repository_id: '123456',
        ref,
        ref_type: 'branch',
        sha: randomBytes(20).toString('hex'),
        workflow: 'build',
        job_workflow_ref: `${repository}/.github/workflows/build.yml@${ref}`,
        actor: 'octocat',
        event_name: 'push',
        environment: 'production',
        run_id: '42',
        run_number: 7,
        ...claims,
      },
      opts,
    );
  }

  /** A GitLab CI `id_tokens` token. */
  gitlab(claims: Claims = {}, opts: SignOptions = {}): Promise<string> {
    const project_path = String(claims.project_path ?? 'group/project');
    const namespace_path = project_path.split('/').slice(0, -1).join('/') || project_path;
    const ref = String(claims.ref ?? 'main');
    return this.sign(
      {
        sub: `project_path:${project_path}:ref_type:branch:ref:${ref}`,
        aud: 'https://gitlab.example',
        project_path,
        project_id: '99',
        namespace_path,
        namespace_id: '7',
        ref,
        ref_type: 'branch',
        ref_protected: 'true',
        pipeline_source: 'push',
        pipeline_id: '1234',
        user_login: 'dev',
        user_id: '5',
        ...claims,
      },
      opts,
    );
  }

  /** A Kubernetes projected service account token. */
  kubernetes(ns: string, sa: string, claims: Claims = {}, opts: SignOptions = {}): Promise<string> {
    return this.sign(
      {
        sub: `system:serviceaccount:${ns}:${sa}`,
        aud: ['https://kubernetes.default.svc'],
        'kubernetes.io': {
          namespace: ns,
          pod: { name: `${sa}-7d9f8-abcde`, uid: randomBytes(8).toString('hex') },
          serviceaccount: { name: sa, uid: randomBytes(8).toString('hex') },
        },
        nbf: now() - 1,
        ...claims,
      },
      opts,
    );
  }

  /** Stops listening and drops every connection (the port stays reserved for `up`). */
  async down(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    for (const sock of this.#sockets) sock.destroy();
    this.#sockets.clear();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    if (this.#server) return;
    const server = createServer();
    await listen(server, this.port);
    this.#attach(server);
  }

  get isUp(): boolean {
    return this.#server !== undefined;
  }

  /** Client connections open right now (keep-alive ones included). */
  get openConnections(): number {
    return this.#sockets.size;
  }

  resetHits(): void {
    this.hits = { discovery: 0, jwks: 0, total: 0, paths: [] };
  }

  async close(): Promise<void> {
    await this.down();
  }
}

function json(res: ServerResponse, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) }).end(s);
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Polls until `cond` holds (or throws after `timeoutMs`): for waiting on an issuer's hit
 * counters after Purser's background key fetch.
 */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GET /token against a Purser with Basic credentials; returns status, JSON body and headers. */
export async function tokenRequest(
  purserUrl: string,
  creds: { username: string; password: string } | undefined,
  params: Record<string, string | string[]> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; ms: number }> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
  const headers: Record<string, string> = {};
  if (creds)
    headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  const started = Date.now();
  const res = await fetch(`${purserUrl}/token?${q}`, { headers, signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body, headers: res.headers, ms: Date.now() - started };
}

/** POST /token with a form. */
export async function tokenPost(
  purserUrl: string,
  form: Record<string, string | string[]>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
  const res = await fetch(`${purserUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: q.toString(),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body };
}

/** The first error message of a Purser error body. */
export function errorMessage(body: Record<string, unknown>): string {
  const errs = body.errors as { message?: string }[] | undefined;
  return errs?.[0]?.message ?? JSON.stringify(body);
}

/** Decodes (without verifying) a JWT's header and payload. */
export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}

/** A TCP server that accepts connections and never answers (a hanging issuer). */
export async function startHangingServer(): Promise<{
  url: string;
  port: number;
  connections: () => number;
  close: () => Promise<void>;
}> {
  const { createServer: createNetServer } = await import('node:net');
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createNetServer((s) => {
    count++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
