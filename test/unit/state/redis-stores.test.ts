// The Redis stores against the shared store contracts (contracts.ts), on a real
// redis-server; each store gets its own key prefix, so tests do not see each other's keys.
import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedisClient, redisReady } from '../../../src/state/redis-client.js';
import { RedisReplayStore } from '../../../src/state/redis-replay.js';
import { RedisRevocationStore } from '../../../src/state/redis-revocation.js';
import { RedisThrottleStore } from '../../../src/state/redis-throttle.js';
import { type RedisServer, startRedis } from '../../helpers/redis.js';
import { replayStoreContract, revocationStoreContract, throttleStoreContract } from './contracts.js';

let server: RedisServer;
let client: Redis;
let n = 0;
const prefix = () => `t${++n}:`;

before(async () => {
  server = await startRedis();
  client = createRedisClient(
    { url: server.url, keyPrefix: 'x', onError: { rateLimits: 'open', revocation: 'closed' } },
    '.',
  );
  if (!(await redisReady(client, 5_000))) throw new Error('redis did not come up');
});
after(async () => {
  client.disconnect();
  await server.stop();
});

throttleStoreContract('redis', (s) => new RedisThrottleStore(client, { keyPrefix: prefix(), now: s.now }));
revocationStoreContract(
  'redis',
  (s) =>
    new RedisRevocationStore(client, { keyPrefix: prefix(), now: s.now, maxEntries: s.capacity ?? 1000 }),
);
replayStoreContract(
  'redis',
  (s) => new RedisReplayStore(client, { keyPrefix: prefix(), now: s.now, maxEntries: s.capacity ?? 1000 }),
);
