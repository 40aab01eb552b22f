import { createPublicKey } from 'node:crypto';
import {
  type CryptoKey,
  createLocalJWKSet,
  exportJWK,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  errors as joseErrors,
  type KeyObject,
} from 'jose';
import { PurserError } from '../../core/errors.js';
import type { LazyDispatcher } from '../../util/lazy-dispatcher.js';
import type { Logger } from '../../util/log.js';
import { pemValueLabel, readPemValue } from '../../util/pem-value.js';
import { fetchJson } from './fetch-json.js';

export type KeyResolver = (
  header: JWSHeaderParameters,
  token: FlattenedJWSInput,
) => Promise<CryptoKey | KeyObject>;

export interface KeySetOptions {
  provider: string;
  issuer: string;
  jwksUri: string | undefined;
  maxAgeMs: number;
  cooldownMs: number;
  timeoutMs: number;
  staleForMs: number;
  dispatcher: LazyDispatcher;
  logger: Logger;
  onFetch?: (kind: 'discovery' | 'jwks', outcome: 'ok' | 'error') => void;
  checkUrl: (url: string) => string | undefined;
  now?: () => number;
}

export interface KeySet {
  resolve: KeyResolver;
  /** Fetches now (start-up warm-up); never throws. */
  warm(): Promise<void>;
  readonly fetchCount: number;
  /** Seconds since the keys in use were fetched; undefined before the first success (or for static keys). */
  readonly ageSeconds?: number | undefined;
  /** Releases what fetching holds open (the issuer's HTTP agent). */
  close?(): Promise<void>;
}

function isJwks(v: unknown): v is JSONWebKeySet {
  return !!v && typeof v === 'object' && Array.isArray((v as { keys?: unknown }).keys);
}

/**
 * An issuer's published keys: discovered, fetched with a timeout, cached for `maxAge`, one
 * shared fetch in flight, an unknown kid refetches at most once per `cooldown`, and the last
 * good keys keep serving for `staleFor` while the issuer is unreachable.
 */
export class RemoteKeySet implements KeySet {
  readonly #o: KeySetOptions;
  #local: ReturnType<typeof createLocalJWKSet> | undefined;
  #fetchedAt = 0;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<void> | undefined;
  #fetches = 0;

  constructor(options: KeySetOptions) {
    this.#o = options;
  }

  get fetchCount(): number {
    return this.#fetches;
  }

  get ageSeconds(): number | undefined {
    return this.#fetchedAt === 0 ? undefined : (this.#now() - this.#fetchedAt) / 1000;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  async #jwksUri(): Promise<string> {
    if (this.#o.jwksUri) return this.#o.jwksUri;
    const url = `${this.#o.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let doc: unknown;
    try {
      doc = await fetchJson(url, this.#o.dispatcher, this.#o.timeoutMs);
      this.#o.onFetch?.('discovery', 'ok');
    } catch (e) {
      this.#o.onFetch?.('discovery', 'error');
      throw new Error(`discovery ${url}: ${(e as Error).message}`);
    }
    const d = doc as { issuer?: unknown; jwks_uri?: unknown };
    if (d.issuer !== this.#o.issuer) {
      this.#o.onFetch?.('discovery', 'error');
      throw new Error(
        `discovery ${url}: issuer ${JSON.stringify(d.issuer)} does not equal the configured ${JSON.stringify(this.#o.issuer)}`,
      );
    }
    if (typeof d.jwks_uri !== 'string') throw new Error(`discovery ${url}: no jwks_uri`);
    const bad = this.#o.checkUrl(d.jwks_uri);
    if (bad) throw new Error(`discovery ${url}: jwks_uri ${bad}`);
    return d.jwks_uri;
  }

  #refresh(): Promise<void> {
    if (this.#inflight) return this.#inflight;
    this.#lastAttempt = this.#now();
    this.#fetches++;
    const p = (async () => {
      const uri = await this.#jwksUri();
      let body: unknown;
      try {
        body = await fetchJson(uri, this.#o.dispatcher, this.#o.timeoutMs);
      } catch (e) {
        this.#o.onFetch?.('jwks', 'error');
        throw new Error(`JWKS ${uri}: ${(e as Error).message}`);
      }
      if (!isJwks(body)) {
        this.#o.onFetch?.('jwks', 'error');
        throw new Error(`JWKS ${uri}: not a JWK set`);
      }
      // Only public asymmetric keys: a symmetric `oct` key in a JWKS is never trusted.
      const keys = body.keys.filter(
        (k) =>
          k && typeof k === 'object' && (k.kty === 'RSA' || k.kty === 'EC' || k.kty === 'OKP') && !('d' in k),
      );
      this.#local = createLocalJWKSet({ keys });
      this.#fetchedAt = this.#now();
      this.#o.onFetch?.('jwks', 'ok');
      this.#o.logger.debug('issuer keys fetched', {
        provider: this.#o.provider,
        url: uri,
        keys: keys.length,
      });
    })()
      .catch((e: Error) => {
        this.#o.logger.warn('fetching issuer keys failed', {
          provider: this.#o.provider,
          issuer: this.#o.issuer,
          reason: e.message,
        });
        throw e;
      })
      .finally(() => {
        this.#inflight = undefined;
      });
    this.#inflight = p;
    return p;
  }

  async warm(): Promise<void> {
    await this.#refresh().catch(() => {});
  }

  /** Closes the issuer's agent; a fetch in flight finishes first (it has a timeout). */
  async close(): Promise<void> {
    await this.#o.dispatcher.close();
  }

  resolve: KeyResolver = async (header, token) => {
    const now = this.#now();
    const age = now - this.#fetchedAt;
    if (!this.#local || age > this.#o.maxAgeMs + this.#o.staleForMs) {
      // Nothing usable cached: wait for a (shared) fetch, but do not hammer a dead issuer.
      if (!this.#inflight && now - this.#lastAttempt < this.#o.cooldownMs) {
        throw new PurserError(
          'UNAVAILABLE',
          `identity provider ${this.#o.provider} is unreachable; try again shortly`,
        );
      }
      try {
        await this.#refresh();
      } catch (e) {
        throw new PurserError(
          'UNAVAILABLE',
          `identity provider ${this.#o.provider} is unreachable; try again shortly`,
          {
            detail: (e as Error).message,
          },
        );
      }
    } else if (age > this.#o.maxAgeMs && now - this.#lastAttempt >= this.#o.cooldownMs) {
      // Stale but within staleFor: refresh in the background and keep serving what we have.
      this.#refresh().catch(() => {});
    }
    try {
      return await this.#local!(header, token);
    } catch (e) {
      if (!(e instanceof joseErrors.JWKSNoMatchingKey)) throw e;
      if (this.#now() - this.#lastAttempt < this.#o.cooldownMs) throw e;
      // An unknown kid may be a rotated key: refetch once per cooldown.
      await this.#refresh().catch(() => {});
      return await this.#local!(header, token);
    }
  };
}

/** Keys from a local file (a PEM public key or certificate, or a JWKS document) or inline PEM. */
export async function localKeySet(value: string): Promise<KeySet> {
  const text = readPemValue(value);
  const file = pemValueLabel(value);
  let jwks: JSONWebKeySet;
  if (text.trimStart().startsWith('{')) {
    const parsed: unknown = JSON.parse(text);
    if (!isJwks(parsed)) throw new Error(`${file}: not a JWK set`);
    jwks = parsed;
  } else {
    const blocks = text.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
    if (blocks.length === 0) throw new Error(`${file}: neither a JWKS nor a PEM public key`);
    jwks = { keys: await Promise.all(blocks.map((b) => exportJWK(createPublicKey(b)))) };
  }
  const local = createLocalJWKSet(jwks);
  if (jwks.keys.some((k) => k.kid !== undefined)) {
    return { resolve: async (h, t) => local(h, t), warm: async () => {}, fetchCount: 0 };
  }
  // PEM keys carry no kid, while real tokens name one: match such keys by type and algorithm
  // only (jose then tries each candidate), instead of never matching.
  return {
    resolve: async (h, t) => createLocalJWKSet({ keys: jwks.keys.map((k) => ({ ...k, kid: h.kid })) })(h, t),
    warm: async () => {},
    fetchCount: 0,
  };
}
