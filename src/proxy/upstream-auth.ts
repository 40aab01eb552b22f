import { type Dispatcher, request } from 'undici';
import type { ProxyConfig } from '../config/load.js';
import { PurserError } from '../core/errors.js';
import { parseBearerChallenge } from '../protocol/challenge.js';
import { formatScope, type Scope } from '../protocol/scope.js';
import type { KeyRing } from '../token/keyring.js';
import { ExpiringCache } from '../util/expiring-cache.js';
import type { Logger } from '../util/log.js';

/** Produces the Authorization header the upstream registry wants for some access. */
export interface UpstreamAuth {
  header(scopes: readonly Scope[], account: string): Promise<string | undefined>;
}

const scopeKey = (scopes: readonly Scope[]) => scopes.map(formatScope).join(' ');

/** The upstream trusts Purser's key: mint a token per (account, scopes), reuse it until shortly before expiry. */
export class MintedTokenAuth implements UpstreamAuth {
  readonly #cache = new ExpiringCache<string>(5000);
  constructor(
    readonly ring: KeyRing,
    readonly service: string,
  ) {}
  async header(scopes: readonly Scope[], account: string): Promise<string> {
    const k = `${account}\0${scopeKey(scopes)}`;
    const hit = this.#cache.get(k);
    if (hit) return hit;
    const t = this.ring.signer.issue(account, this.service, scopes);
    const value = `Bearer ${t.token}`;
    this.#cache.set(k, value, (t.claims.exp - 30) * 1000);
    return value;
  }
}

export class BasicAuth implements UpstreamAuth {
  readonly #value: string;
  constructor(username: string, password: string) {
    this.#value = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  async header(): Promise<string> {
    return this.#value;
  }
}

/** The upstream has its own token server: follow its challenge with fixed credentials, cache per scope. */
export class UpstreamBearerAuth implements UpstreamAuth {
  readonly #cache = new ExpiringCache<string>(5000);
  #challenge: Promise<{ realm: string; service: string | undefined }> | undefined;
  readonly #basic: string;

  constructor(
    readonly upstream: string,
    username: string,
    password: string,
    readonly dispatcher: Dispatcher,
    readonly log: Logger,
  ) {
    this.#basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  #discover(): Promise<{ realm: string; service: string | undefined }> {
    if (!this.#challenge) {
      this.#challenge = (async () => {
        const res = await request(`${this.upstream}/v2/`, { dispatcher: this.dispatcher });
        await res.body.dump();
        const h = res.headers['www-authenticate'];
        const c = parseBearerChallenge(Array.isArray(h) ? h[0]! : (h ?? ''));
        if (!c?.realm)
          throw new Error(`upstream ${this.upstream}/v2/ gave no Bearer challenge (HTTP ${res.statusCode})`);
        return { realm: c.realm, service: c.service };
      })().catch((e: Error) => {
        this.#challenge = undefined;
        throw e;
      });
    }
    return this.#challenge;
  }

  async header(scopes: readonly Scope[]): Promise<string> {
    const k = scopeKey(scopes);
    const hit = this.#cache.get(k);
    if (hit) return hit;
    try {
      const { realm, service } = await this.#discover();
      const url = new URL(realm);
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', formatScope(s));
      const res = await request(url, {
        headers: { authorization: this.#basic },
        dispatcher: this.dispatcher,
      });
      const body = (await res.body.json()) as { token?: string; access_token?: string; expires_in?: number };
      if (res.statusCode !== 200)
        throw new Error(`upstream token server ${url.origin}${url.pathname} answered HTTP ${res.statusCode}`);
      const token = body.token ?? body.access_token;
      if (!token) throw new Error('upstream token server returned no token');
      const value = `Bearer ${token}`;
      this.#cache.set(k, value, Date.now() + Math.max(30, (body.expires_in ?? 60) - 30) * 1000);
      return value;
    } catch (e) {
      this.log.warn('upstream token request failed', {
        upstream: this.upstream,
        reason: (e as Error).message,
      });
      throw new PurserError('UNAVAILABLE', 'upstream registry authentication failed');
    }
  }
}

export function createUpstreamAuth(
  cfg: ProxyConfig,
  ring: KeyRing,
  dispatcher: Dispatcher,
  log: Logger,
): UpstreamAuth {
  const a = cfg.upstreamAuth;
  if (a === 'none') return { header: async () => undefined };
  if (a === 'token') return new MintedTokenAuth(ring, cfg.service);
  if (a.kind === 'basic') return new BasicAuth(a.username, a.password.reveal());
  return new UpstreamBearerAuth(cfg.upstream, a.username, a.password.reveal(), dispatcher, log);
}
