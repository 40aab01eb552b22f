import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { CacheDigest } from './cache-digest.js';
import { ExpiringCache } from './expiring-cache.js';
import { SingleFlight } from './single-flight.js';
import { WebhookCallError, WebhookClient, type WebhookClientOptions } from './webhook-client.js';

/** Bytes the cached answers of one webhook may take at most. */
const CACHE_BYTES = 16 * 1024 * 1024;

/** What both webhooks are configured with: the signed call and its cache. */
export interface WebhookTransportOptions extends WebhookClientOptions {
  /** Seconds an answer is reused for the same request document; 0: never. */
  cacheSeconds: number;
  cacheEntries: number;
  /** Each call: its outcome (`hit`: answered from the cache) and seconds taken. */
  onCall?: (outcome: 'ok' | 'error' | 'hit', seconds: number) => void;
}

export interface WebhookCallOptions<T> extends WebhookTransportOptions {
  /** Checks the answer and turns it into what callers use; throws WebhookCallError('invalid'). */
  parse: (answer: unknown) => T;
  /** Whether an answer may be cached (default: every valid one). */
  cacheable?: (value: T) => boolean;
  /** Bytes a parsed answer costs in the cache (an estimate). */
  sizeOf: (value: T) => number;
}

/**
 * One webhook: a signed call (WebhookClient), its answer validated by `parse`, and a cache
 * of valid answers keyed by a keyed digest of the request document (so neither a password
 * nor a digest anyone could brute-force offline is kept). Identical requests in flight share
 * one call. A failure is never cached: the next request asks again.
 */
export class WebhookCall<T> {
  readonly #o: WebhookCallOptions<T>;
  readonly #client: WebhookClient;
  readonly #cache: ExpiringCache<T>;
  readonly #inFlight = new SingleFlight<T>();
  readonly #digest = new CacheDigest(randomBytes(32));

  constructor(options: WebhookCallOptions<T>) {
    this.#o = options;
    this.#client = new WebhookClient(options);
    this.#cache = new ExpiringCache<T>(options.cacheEntries, {
      maxBytes: CACHE_BYTES,
      sizeOf: (k, v) => 2 * k.length + options.sizeOf(v),
    });
  }

  /** origin + path of the endpoint, for log lines. */
  get target(): string {
    return this.#client.target;
  }

  /** Entries cached now (for tests). */
  get cached(): number {
    return this.#cache.size;
  }

  async call(document: Record<string, unknown>): Promise<T> {
    const now = () => this.#o.now?.() ?? Date.now();
    const started = performance.now();
    const key = this.#digest.of(JSON.stringify(document));
    const hit = this.#cache.get(key, now());
    if (hit !== undefined) {
      this.#o.onCall?.('hit', (performance.now() - started) / 1000);
      return hit;
    }
    try {
      const value = await this.#inFlight.run(key, async () => {
        const parsed = this.#o.parse(await this.#client.post(document));
        if (this.#o.cacheSeconds > 0 && (this.#o.cacheable?.(parsed) ?? true))
          this.#cache.set(key, parsed, now() + this.#o.cacheSeconds * 1000, now());
        return parsed;
      });
      this.#o.onCall?.('ok', (performance.now() - started) / 1000);
      return value;
    } catch (e) {
      this.#o.onCall?.('error', (performance.now() - started) / 1000);
      if (e instanceof WebhookCallError) throw e;
      throw new WebhookCallError('invalid', (e as Error).message);
    }
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

/** `raw` checked against `schema`; a mismatch is a WebhookCallError naming its first problem. */
export function parseAnswer<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  throw new WebhookCallError(
    'invalid',
    `the answer does not fit the schema: ${path ? `${path}: ` : ''}${issue.message}`,
  );
}
