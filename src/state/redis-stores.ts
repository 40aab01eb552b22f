import type { Redis } from 'ioredis';
import type { Logger } from '../util/log.js';
import { MemoryLoginCacheStore } from './login-cache.js';
import { createRedisClient, type RedisSettings, redisReady } from './redis-client.js';
import { FailOpenRevocationStore, FailOpenThrottleStore } from './redis-policy.js';
import { RedisReplayStore } from './redis-replay.js';
import { RedisRevocationStore } from './redis-revocation.js';
import { RedisThrottleStore } from './redis-throttle.js';
import type { Stores } from './stores.js';

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
export function redisStores(s: RedisSettings, baseDir: string, logger: Logger): RedisStores {
  const client = createRedisClient(s, baseDir);
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
  const throttle = new RedisThrottleStore(client, o);
  const revocation = new RedisRevocationStore(client, o);
  return {
    stores: {
      throttle: s.onError.rateLimits === 'open' ? new FailOpenThrottleStore(throttle, sink) : throttle,
      revocation:
        s.onError.revocation === 'open' ? new FailOpenRevocationStore(revocation, sink) : revocation,
      replay: new RedisReplayStore(client, o),
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
