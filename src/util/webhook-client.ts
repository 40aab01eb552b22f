import { createHmac } from 'node:crypto';
import type { Secret } from '../core/secret.js';
import { type LazyDispatcher, lazyDispatcher } from './lazy-dispatcher.js';

/** The version of the request and answer documents (docs/authentication.md#webhooks). */
export const WEBHOOK_API_VERSION = 'purser.dev/v1';

export const SIGNATURE_HEADER = 'purser-signature';
export const TIMESTAMP_HEADER = 'purser-timestamp';

/**
 * The signature of a webhook request: HMAC-SHA256 under the shared secret over
 * `TIMESTAMP.BODY` (the decimal Unix time in `Purser-Timestamp`, a dot, the exact body
 * bytes), hex, as `sha256=HEX`. Binding the time lets a receiver refuse old requests.
 */
export function webhookSignature(secret: string | Buffer, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/** Why a call failed, in words safe for a log line: never the secret, the body or the answer. */
export class WebhookCallError extends Error {
  /** A short fixed word for metrics and tests: timeout, tls, network, status, too_large, not_json. */
  readonly reason: 'timeout' | 'tls' | 'network' | 'status' | 'too_large' | 'not_json' | 'invalid';
  constructor(reason: WebhookCallError['reason'], message: string) {
    super(message);
    this.name = 'WebhookCallError';
    this.reason = reason;
  }
}

export interface WebhookClientOptions {
  url: string;
  secret: Secret;
  /** PEM bundle replacing Node's root CAs; undefined: the root CAs. */
  ca: string | undefined;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Epoch milliseconds, for the timestamp (tests freeze it). */
  now?: () => number;
}

// TLS error codes Node and undici report for a certificate that does not verify.
const TLS_CODES =
  /^(ERR_TLS_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|CERT_|ERR_SSL_|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME)/;

/** Where a call went, for log lines: origin and path, never the query (it may hold a token). */
export function webhookTarget(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/**
 * POSTs signed JSON to one HTTPS endpoint and reads a bounded JSON answer. TLS is verified
 * (against `ca` when given); redirects are not followed (any status but 200 fails); the
 * whole exchange, answer body included, has one deadline; a body over the limit is cut off
 * by aborting the request. Every failure is a WebhookCallError.
 */
export class WebhookClient {
  readonly #o: WebhookClientOptions;
  readonly #agent: LazyDispatcher;
  readonly target: string;

  constructor(options: WebhookClientOptions) {
    this.#o = options;
    this.target = webhookTarget(options.url);
    this.#agent = lazyDispatcher(
      ({ Agent }) =>
        new Agent({
          connect: { ...(options.ca ? { ca: options.ca } : {}), timeout: options.timeoutMs },
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
          keepAliveTimeout: 30_000,
          connections: 16,
        }),
    );
  }

  async post(document: unknown): Promise<unknown> {
    const body = JSON.stringify(document);
    const timestamp = String(Math.floor((this.#o.now?.() ?? Date.now()) / 1000));
    const controller = new AbortController();
    let timedOut = false;
    let tooLarge = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#o.timeoutMs);
    const failure = (e: unknown): WebhookCallError => {
      if (e instanceof WebhookCallError) return e;
      if (timedOut) return new WebhookCallError('timeout', `no answer within ${this.#o.timeoutMs} ms`);
      if (tooLarge)
        return new WebhookCallError('too_large', `answer larger than ${this.#o.maxResponseBytes} bytes`);
      const err = e as Error & { code?: string; cause?: { code?: string; message?: string } };
      const code = err.code ?? err.cause?.code ?? '';
      const msg = err.cause?.message ?? err.message;
      // undici's own deadlines (connect, head, body) are the same deadline as ours.
      if (/^UND_ERR_(CONNECT|HEADERS|BODY)_TIMEOUT$/.test(code))
        return new WebhookCallError('timeout', `no answer within ${this.#o.timeoutMs} ms`);
      if (TLS_CODES.test(code)) return new WebhookCallError('tls', `TLS: ${code}: ${msg}`);
      return new WebhookCallError('network', code ? `${code}: ${msg}` : msg);
    };
    try {
      const [{ request }, dispatcher] = await Promise.all([import('undici'), this.#agent.get()]);
      const res = await request(this.#o.url, {
        method: 'POST',
        dispatcher,
        signal: controller.signal,
        body,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'user-agent': 'purser',
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: webhookSignature(this.#o.secret.reveal(), timestamp, body),
        },
      });
      // An abort while the body streams makes it emit 'error': a listener keeps that from
      // becoming an uncaught exception.
      res.body.on('error', () => {});
      if (res.statusCode !== 200) {
        controller.abort();
        throw new WebhookCallError(
          'status',
          `HTTP ${res.statusCode}${res.statusCode >= 300 && res.statusCode < 400 ? ' (redirects are not followed)' : ''}`,
        );
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > this.#o.maxResponseBytes) {
        tooLarge = true;
        controller.abort();
        throw failure(undefined);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > this.#o.maxResponseBytes) {
          tooLarge = true;
          controller.abort();
          throw failure(undefined);
        }
        chunks.push(chunk as Buffer);
      }
      try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        throw new WebhookCallError('not_json', 'the answer is not JSON');
      }
    } catch (e) {
      throw failure(e);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}
