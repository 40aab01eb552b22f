import type { Redis } from 'ioredis';
import type { Logger } from '../util/log.js';
import { MemoryLoginCacheStore } from './login-cache.js';
import { createRedisClient, type RedisSettings, redisReady } from './redis-client.js';
import { FailOpenRevocationStore, FailOpenThrottleStore } from './redis-policy.js';
import { RedisReplayStore } from './redis-replay.js';
import { RedisRevocationStore } from './redis-revocation.js';
import { RedisThrottleStore } from './redis-throttle.js';
import type { RevocationStore } from './revocation.js';
import type { Stores } from './stores.js';
import type { ThrottlePolicy, ThrottleStore } from './throttle.js';

/** The stores of a `redis:` configuration, and what `serve` needs to watch and close them. */
export interface RedisStores {
  stores: Stores;
  client: Redis;
  /** Store errors absorbed by a fail-open policy, since start. */
  readonly absorbedErrors: number;
  close(): Promise<void>;
}

/** One warning per this many ms at most, however many requests hit the outage. */
const LOG_EVERY_MS = 10_000;

/**
 * Throttle, revocation and replay in Redis, each with the configured outage policy; the
 * login cache stays per process (it only saves bcrypt work). Replay always fails closed:
 * accepting a token that may have been seen is what `replay: once` forbids.
 */
export function redisStores(
  s: RedisSettings,
  baseDir: string,
  logger: Logger,
  options: { onError?: (store: RedisStoreName) => void } = {},
): RedisStores {
  const client = createRedisClient(s, baseDir);
  const onError = options.onError ?? (() => {});
  let absorbed = 0;
  let lastLog = 0;
  let sinceLog = 0;
  const sink = (store: 'throttle' | 'revocation', error: Error) => {
    absorbed++;
    sinceLog++;
    const now = Date.now();
    if (now - lastLog < LOG_EVERY_MS) return;
    lastLog = now;
    logger.warn('redis unreachable: failing open', { store, errors: sinceLog, error: error.message });
    sinceLog = 0;
  };
  const o = { keyPrefix: s.keyPrefix };
  const throttle = countedThrottle(new RedisThrottleStore(client, o), onError);
  const revocation = countedRevocation(new RedisRevocationStore(client, o), onError);
  const replay = new RedisReplayStore(client, o);
  return {
    stores: {
      throttle: s.onError.rateLimits === 'open' ? new FailOpenThrottleStore(throttle, sink) : throttle,
      revocation:
        s.onError.revocation === 'open' ? new FailOpenRevocationStore(revocation, sink) : revocation,
      replay: {
        firstUse: (key, expiresAt) => counted(() => replay.firstUse(key, expiresAt), 'replay', onError),
      },
      loginCache: new MemoryLoginCacheStore(),
    },
    client,
    get absorbedErrors() {
      return absorbed;
    },
    async close() {
      client.disconnect();
    },
  };
}

export { redisReady };

/** The stores whose Redis calls are counted (a metric label). */
export type RedisStoreName = 'throttle' | 'revocation' | 'replay';

// Every failed call is counted, whatever the outage policy in front then makes of it.
async function counted<T>(
  run: () => Promise<T>,
  store: RedisStoreName,
  onError: (s: RedisStoreName) => void,
) {
  try {
    return await run();
  } catch (e) {
    onError(store);
    throw e;
  }
}

function countedThrottle(t: ThrottleStore, onError: (s: RedisStoreName) => void): ThrottleStore {
  return {
    retryAfter: (k, p) => counted(() => t.retryAfter(k, p), 'throttle', onError),
    remaining: (k, p) => counted(() => t.remaining(k, p), 'throttle', onError),
    fail: (k, p) => counted(() => t.fail(k, p), 'throttle', onError),
    succeed: (k) => counted(() => t.succeed(k), 'throttle', onError),
    ...(t.check
      ? { check: (k: string, p: ThrottlePolicy) => counted(async () => t.check!(k, p), 'throttle', onError) }
      : {}),
    ...(t.acquire && t.release
      ? {
          acquire: (k: string, p: ThrottlePolicy) => counted(() => t.acquire!(k, p), 'throttle', onError),
          release: (k: string) => counted(() => t.release!(k), 'throttle', onError),
        }
      : {}),
  };
}

function countedRevocation(r: RevocationStore, onError: (s: RedisStoreName) => void): RevocationStore {
  return {
    revoke: (x) => counted(() => r.revoke(x), 'revocation', onError),
    isRevoked: (q) => counted(() => r.isRevoked(q), 'revocation', onError),
  };
}
