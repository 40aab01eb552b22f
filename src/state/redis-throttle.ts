import type { Redis } from 'ioredis';
import { redisCall } from './redis-client.js';
import { RedisScript } from './redis-script.js';
import { storeKey } from './store-key.js';
import type { ThrottlePolicy, ThrottleStore } from './throttle.js';

// A window is a hash {s: start ms, c: count}. Counting and starting a window happen in one
// script, so replicas failing the same key at once all count. Times come from the caller's
// clock (replicas' clocks are assumed in step); Redis expires a window when it ends.
const FAIL = new RedisScript(`
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local s = tonumber(redis.call('HGET', KEYS[1], 's'))
if s and s + win > now then
  redis.call('HINCRBY', KEYS[1], 'c', 1)
else
  s = now
  redis.call('HSET', KEYS[1], 's', now, 'c', 1)
end
redis.call('PEXPIREAT', KEYS[1], s + win)
return 1
`);

// A key's login checks in flight, across replicas: one counter per key, taken only while it
// is 0 or below the failures the key has left (its window read in the same script), so a
// burst of guesses spread over replicas runs no more checks at once than one process would.
// The counter expires LEASE ms after its last taker: a replica that dies mid-check frees its
// slots then.
const ACQUIRE = new RedisScript(`
local active = tonumber(redis.call('GET', KEYS[2]) or '0')
if active > 0 then
  local now = tonumber(ARGV[1])
  local win = tonumber(ARGV[2])
  local left = tonumber(ARGV[3])
  local s = tonumber(redis.call('HGET', KEYS[1], 's'))
  if s and s + win > now then
    left = left - (tonumber(redis.call('HGET', KEYS[1], 'c')) or 0)
  end
  if active >= left then return 0 end
end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
`);

const RELEASE = new RedisScript(`
local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) end
return n
`);

/** How long a replica's slot outlives it at most (longer than any one login check). */
const SLOT_LEASE_MS = 30_000;

/**
 * Failed-login counts in Redis, shared by every replica with the same key prefix. Each key
 * is one small hash under a fixed-size digest of the caller's key; Redis drops it when its
 * window ends, so entries are bounded by the keys failing within one window.
 */
export class RedisThrottleStore implements ThrottleStore {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #now: () => number;

  constructor(client: Redis, options: { keyPrefix: string; now?: () => number }) {
    this.#client = client;
    this.#prefix = `${options.keyPrefix}throttle:`;
    this.#now = options.now ?? Date.now;
  }

  #key(key: string): string {
    return this.#prefix + storeKey(key);
  }

  async #window(
    key: string,
    policy: ThrottlePolicy,
    now: number,
  ): Promise<{ start: number; count: number } | undefined> {
    const [s, c] = await redisCall('throttle', () => this.#client.hmget(this.#key(key), 's', 'c'));
    if (s == null || c == null) return undefined;
    const start = Number(s);
    // A window shortened by a reload ends at its new length.
    return start + policy.windowSeconds * 1000 > now ? { start, count: Number(c) } : undefined;
  }

  async retryAfter(key: string, policy: ThrottlePolicy): Promise<number> {
    const now = this.#now();
    const w = await this.#window(key, policy, now);
    if (!w || w.count < policy.max) return 0;
    return Math.ceil((w.start + policy.windowSeconds * 1000 - now) / 1000);
  }

  /** retryAfter and the failures counted from one read: a success with none skips `succeed`. */
  async check(key: string, policy: ThrottlePolicy): Promise<{ retryAfter: number; failures: number }> {
    const now = this.#now();
    const w = await this.#window(key, policy, now);
    if (!w) return { retryAfter: 0, failures: 0 };
    const retryAfter =
      w.count < policy.max ? 0 : Math.ceil((w.start + policy.windowSeconds * 1000 - now) / 1000);
    return { retryAfter, failures: w.count };
  }

  async remaining(key: string, policy: ThrottlePolicy): Promise<number> {
    const w = await this.#window(key, policy, this.#now());
    return w ? Math.max(0, policy.max - w.count) : policy.max;
  }

  async fail(key: string, policy: ThrottlePolicy): Promise<void> {
    const k = this.#key(key);
    await redisCall('throttle', () =>
      FAIL.run(this.#client, [k], [this.#now(), policy.windowSeconds * 1000]),
    );
  }

  async succeed(key: string): Promise<void> {
    await redisCall('throttle', () => this.#client.del(this.#key(key)));
  }

  async acquire(key: string, policy: ThrottlePolicy): Promise<boolean> {
    const k = this.#key(key);
    const taken = await redisCall('throttle', () =>
      ACQUIRE.run(
        this.#client,
        [k, `${k}:busy`],
        [this.#now(), policy.windowSeconds * 1000, policy.max, SLOT_LEASE_MS],
      ),
    );
    return Number(taken) === 1;
  }

  async release(key: string): Promise<void> {
    const k = `${this.#key(key)}:busy`;
    await redisCall('throttle', () => RELEASE.run(this.#client, [k], []));
  }
}
