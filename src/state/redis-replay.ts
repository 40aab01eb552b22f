import type { Redis } from 'ioredis';
import { PurserError } from '../core/errors.js';
import { redisCall } from './redis-client.js';
import { RedisScript } from './redis-script.js';
import type { ReplayStore } from './replay.js';
import { storeKey } from './store-key.js';

// Seen once: the entry holds its expiry (epoch ms) and Redis drops it then. Checking and
// recording are one script, so two replicas racing on one token accept it once. A full
// index refuses (-1): forgetting a live token would let it be used again.
const FIRST_USE = new RedisScript(`
local now = tonumber(ARGV[1])
local untilMs = tonumber(ARGV[2])
local old = tonumber(redis.call('GET', KEYS[1]))
if old and old > now then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return -1 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], untilMs)
redis.call('ZADD', KEYS[2], untilMs, KEYS[1])
return 1
`);

/** JWTs seen (providers with `replay: once`), in Redis: at most `maxEntries` live ones. */
export class RedisReplayStore implements ReplayStore {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #max: number;
  readonly #now: () => number;

  constructor(client: Redis, options: { keyPrefix: string; maxEntries?: number; now?: () => number }) {
    this.#client = client;
    this.#prefix = `${options.keyPrefix}replay:`;
    this.#max = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  async firstUse(key: string, expiresAt: number): Promise<boolean> {
    const k = this.#prefix + storeKey(key);
    const out = await redisCall('replay', () =>
      FIRST_USE.run(this.#client, [k, `${this.#prefix}index`], [this.#now(), expiresAt * 1000, this.#max]),
    );
    if (out === -1) throw new PurserError('UNAVAILABLE', `the replay cache is full (${this.#max} tokens)`);
    return out === 1;
  }
}
