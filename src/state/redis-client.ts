import { isAbsolute, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { PurserError } from '../core/errors.js';
import { isInlinePem, readPemBytes } from '../util/pem-value.js';

/** The `redis:` configuration, as the schema gives it (`tls` paths relative to `baseDir`). */
export interface RedisSettings {
  url: string;
  keyPrefix: string;
  tls?:
    | {
        ca?: string | undefined;
        cert?: string | undefined;
        key?: string | undefined;
        servername?: string | undefined;
      }
    | undefined;
  onError: { rateLimits: 'open' | 'closed'; revocation: 'open' | 'closed' };
}

/**
 * A client for Purser's stores. Commands fail at once while Redis is unreachable (no
 * offline queue, one attempt, a command timeout) so that the failure policy decides, never a
 * hanging request; the client keeps reconnecting in the background, so Redis coming back
 * needs no restart.
 */
export function createRedisClient(s: RedisSettings, baseDir: string): Redis {
  const file = (p: string | undefined) =>
    p === undefined ? undefined : readPemBytes(isAbsolute(p) || isInlinePem(p) ? p : resolve(baseDir, p));
  const tls =
    s.tls || s.url.startsWith('rediss:')
      ? {
          ...(s.tls?.ca ? { ca: file(s.tls.ca) } : {}),
          ...(s.tls?.cert ? { cert: file(s.tls.cert) } : {}),
          ...(s.tls?.key ? { key: file(s.tls.key) } : {}),
          ...(s.tls?.servername ? { servername: s.tls.servername } : {}),
        }
      : undefined;
  const client = new Redis(s.url, {
    ...(tls ? { tls } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 1000,
    connectTimeout: 2000,
    // Reconnect forever, backing off to one attempt every 2 s.
    retryStrategy: (times) => Math.min(100 * times, 2000),
    lazyConnect: false,
  });
  // Errors are answered per command by the failure policy (redis-policy.ts); without a
  // listener ioredis would print each reconnect failure.
  client.on('error', () => {});
  return client;
}

/** Waits until `client` is connected, at most `ms`; false when it is not. */
export async function redisReady(client: Redis, ms: number): Promise<boolean> {
  if (client.status === 'ready') return true;
  return new Promise((done) => {
    const t = setTimeout(() => finish(false), ms);
    const onReady = () => finish(true);
    function finish(ok: boolean) {
      clearTimeout(t);
      client.off('ready', onReady);
      done(ok);
    }
    client.on('ready', onReady);
  });
}

/** Runs a Redis command, turning a connection failure into a typed UNAVAILABLE error. */
export async function redisCall<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof PurserError) throw e;
    // The message of ioredis names the command and the address, never an argument.
    throw new PurserError('UNAVAILABLE', `redis (${what}): ${(e as Error).message}`);
  }
}
