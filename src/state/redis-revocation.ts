import type { Redis } from 'ioredis';
import { PurserError } from '../core/errors.js';
import { redisCall } from './redis-client.js';
import { RedisScript } from './redis-script.js';
import { keyFor, type Revocation, type RevocationQuery, type RevocationStore } from './revocation.js';
import { storeKey } from './store-key.js';

// An entry is "before:until" (epoch seconds : epoch ms); a jti's `before` is "inf". The
// index (a sorted set by `until`) bounds the entries: expired ones leave it, and a new entry
// when it is full is refused (-1) rather than evict a live revocation.
const REVOKE = new RedisScript(`
local function num(x) if x == 'inf' then return math.huge end return tonumber(x) end
local now = tonumber(ARGV[1])
local before = num(ARGV[2])
local untilMs = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local old = redis.call('GET', KEYS[1])
local live = false
if old then
  local ob, ou = string.match(old, '^([^:]+):(.+)$')
  ou = tonumber(ou)
  if ou and ou > now then
    live = true
    before = math.max(before, num(ob))
    untilMs = math.max(untilMs, ou)
  end
end
if not live and redis.call('ZCARD', KEYS[2]) >= max then return -1 end
local b = before == math.huge and 'inf' or string.format('%d', before)
redis.call('SET', KEYS[1], b .. ':' .. string.format('%d', untilMs))
redis.call('PEXPIREAT', KEYS[1], untilMs)
redis.call('ZADD', KEYS[2], untilMs, KEYS[1])
return 1
`);

/**
 * Revoked refresh tokens in Redis: a revocation written by `purser revoke` or any replica
 * holds on all replicas with the same key prefix. At most `maxEntries` live revocations.
 */
export class RedisRevocationStore implements RevocationStore {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #max: number;
  readonly #now: () => number;

  constructor(client: Redis, options: { keyPrefix: string; maxEntries?: number; now?: () => number }) {
    this.#client = client;
    this.#prefix = `${options.keyPrefix}revocation:`;
    this.#max = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  async revoke(r: Revocation): Promise<void> {
    const now = this.#now();
    const until = r.expiresAt * 1000;
    if (until <= now) return;
    const key = 'jti' in r ? storeKey('jti', r.jti) : keyFor(r, 'account' in r ? r.account : undefined);
    const before = 'jti' in r ? 'inf' : Math.floor(r.before);
    const out = await redisCall('revoke', () =>
      REVOKE.run(
        this.#client,
        [this.#prefix + key, `${this.#prefix}index`],
        [now, before, Math.ceil(until), this.#max],
      ),
    );
    if (out === -1) {
      // Evicting would silently un-revoke someone else's token.
      throw new PurserError('UNAVAILABLE', `the revocation store is full (${this.#max} entries)`);
    }
  }

  async isRevoked(q: RevocationQuery): Promise<boolean> {
    const now = this.#now();
    const keys = [keyFor(q, q.account), keyFor({}, q.account), keyFor(q, undefined)];
    if (q.jti !== undefined) keys.push(storeKey('jti', q.jti));
    const values = await redisCall('revocation check', () =>
      this.#client.mget(keys.map((k) => this.#prefix + k)),
    );
    return values.some((v, i) => {
      if (v == null) return false;
      const [b, u] = v.split(':');
      if (!(Number(u) > now)) return false;
      // The jti entry (last) revokes that token whatever its iat.
      return i === 3 || q.issuedAt <= Number(b);
    });
  }
}
