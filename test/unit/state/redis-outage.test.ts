// The outage policies of the Redis stores, against a port nothing listens on: fail-open
// answers "may try" and logs once per interval; fail-closed throws UNAVAILABLE at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RedisSettings } from '../../../src/state/redis-client.js';
import { type RedisStores, redisStores } from '../../../src/state/redis-stores.js';
import { createLogger } from '../../../src/util/log.js';
import { getFreePort } from '../../helpers/ports.js';

const policy = { max: 3, windowSeconds: 60 };
const q = { jti: 'j', account: 'a', provider: 'static', issuedAt: 1 };

describe('Redis stores while Redis is unreachable', () => {
  let port: number;
  const lines: string[] = [];
  const made: RedisStores[] = [];
  const counted: string[] = [];
  const make = (onError: RedisSettings['onError']) => {
    const s = redisStores(
      { url: `redis://:pw-not-logged@127.0.0.1:${port}`, keyPrefix: 'p:', onError },
      '.',
      createLogger({ level: 'warn', write: (l) => lines.push(l) }),
      { onError: (store) => counted.push(store) },
    );
    made.push(s);
    return s;
  };

  before(async () => {
    port = await getFreePort();
  });
  after(async () => {
    for (const s of made) await s.close();
  });

  test('defaults: rate limits open (logged once, counted), revocation closed, replay closed', async () => {
    const s = make({ rateLimits: 'open', revocation: 'closed' });
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      assert.equal(await s.stores.throttle.retryAfter('k', policy), 0);
      assert.equal(await s.stores.throttle.remaining('k', policy), 3);
      await s.stores.throttle.fail('k', policy);
      await s.stores.throttle.succeed('k');
    }
    assert.ok(Date.now() - t0 < 2_000, 'no waiting for a connection');
    assert.equal(s.absorbedErrors, 20);
    const warned = lines.filter((l) => l.includes('redis unreachable: failing open'));
    assert.equal(warned.length, 1, 'one line per interval, not one per request');
    assert.ok(!lines.join('\n').includes('pw-not-logged'), 'no password in the log');
    await assert.rejects(s.stores.revocation.isRevoked(q), { code: 'UNAVAILABLE' });
    await assert.rejects(s.stores.replay.firstUse('x', Math.floor(Date.now() / 1000) + 60), {
      code: 'UNAVAILABLE',
    });
  });

  test('every failed Redis call is counted by store (purser_redis_errors_total), whatever the policy', async () => {
    counted.length = 0;
    const open = make({ rateLimits: 'open', revocation: 'open' });
    await open.stores.throttle.fail('k', policy);
    assert.equal(await open.stores.revocation.isRevoked(q), false);
    const closed = make({ rateLimits: 'closed', revocation: 'closed' });
    await assert.rejects(closed.stores.throttle.remaining('k', policy));
    await assert.rejects(closed.stores.revocation.isRevoked(q));
    await assert.rejects(closed.stores.replay.firstUse('x', Math.floor(Date.now() / 1000) + 60));
    assert.deepEqual(counted, ['throttle', 'revocation', 'throttle', 'revocation', 'replay']);
  });

  test('rateLimits closed throws UNAVAILABLE; revocation open answers not revoked', async () => {
    const s = make({ rateLimits: 'closed', revocation: 'open' });
    await assert.rejects(s.stores.throttle.retryAfter('k', policy), { code: 'UNAVAILABLE' });
    assert.equal(await s.stores.revocation.isRevoked(q), false);
    await assert.rejects(
      s.stores.revocation.revoke({ jti: 'j', expiresAt: Math.floor(Date.now() / 1000) + 60 }),
      { code: 'UNAVAILABLE' },
      'writing a revocation never fails silently',
    );
  });
});
