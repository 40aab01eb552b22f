// `purser revoke`: usage checks, the refusal without redis:, an unreachable Redis, and the
// entry it writes (read back through the store the servers use).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { main } from '../../../src/cli/main.js';
import { createRedisClient, redisReady } from '../../../src/state/redis-client.js';
import { RedisRevocationStore } from '../../../src/state/redis-revocation.js';
import { getFreePort } from '../../helpers/ports.js';
import { type RedisServer, startRedis } from '../../helpers/redis.js';
import { configObject, type KeyFiles, makeKeys, tempDir, writeFile } from '../support.js';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['revoke', ...args], {
    stdout: (x) => {
      stdout += x;
    },
    stderr: (x) => {
      stderr += x;
    },
    stdin: async () => '',
  });
  return { code, stdout, stderr };
}

describe('purser revoke', () => {
  let keys: KeyFiles & { cleanup: () => void };
  const t = tempDir('purser-unit-revoke-');
  let redis: RedisServer;
  let withRedis: string;
  let without: string;

  before(async () => {
    keys = await makeKeys();
    redis = await startRedis();
    without = writeFile(t.dir, 'plain.yml', stringify(configObject(keys)));
    withRedis = writeFile(
      t.dir,
      'redis.yml',
      stringify(configObject(keys, { redis: { url: `redis://127.0.0.1:${redis.port}`, keyPrefix: 'rv:' } })),
    );
  });
  after(async () => {
    await redis?.stop();
    keys?.cleanup();
    t.cleanup();
  });

  test('--help', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--account A/);
    assert.match(r.stdout, /--before TIME/);
  });

  test('without redis: refused with exit 2, naming redis and why', async () => {
    const r = await cli(['--config', without, '--account', 'alice']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no redis: section/);
    assert.match(r.stderr, /per process/);
  });

  test('bad usage: exit 2 with the flag named', async () => {
    for (const [args, msg] of [
      [['--account', 'a'], /--config/],
      [['--config', withRedis], /give --jti, --account or --provider/],
      [['--config', withRedis, '--jti', 'j', '--account', 'a'], /--jti revokes one token/],
      [['--config', withRedis, '--account', 'a', '--before', 'yesterday'], /RFC 3339/],
      [['--config', withRedis, '--account', 'a', '--before', '2030-02-31T00:00:00Z'], /RFC 3339/],
      [['--config', withRedis, '--account', ''], /--account must be/],
    ] as const) {
      const r = await cli([...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, msg, args.join(' '));
    }
  });

  test('writes the revocation the servers read', async () => {
    const r = await cli(['--config', withRedis, '--account', 'alice', '--provider', 'static']);
    assert.equal(r.code, 0, r.stderr);
    const client = createRedisClient(
      {
        url: `redis://127.0.0.1:${redis.port}`,
        keyPrefix: 'rv:',
        onError: { rateLimits: 'open', revocation: 'closed' },
      },
      '.',
    );
    try {
      assert.ok(await redisReady(client, 5_000));
      const store = new RedisRevocationStore(client, { keyPrefix: 'rv:' });
      const q = {
        jti: undefined,
        account: 'alice',
        provider: 'static',
        issuedAt: Math.floor(Date.now() / 1000) - 5,
      };
      assert.equal(await store.isRevoked(q), true);
      assert.equal(await store.isRevoked({ ...q, provider: 'github' }), false);
      assert.equal(
        await store.isRevoked({ ...q, issuedAt: q.issuedAt + 3600 }),
        false,
        'issued later: valid',
      );
    } finally {
      client.disconnect();
    }
  });

  test('Redis unreachable: exit 1, without the password in the message', async () => {
    const port = await getFreePort();
    const cfg = writeFile(
      t.dir,
      'down.yml',
      stringify(configObject(keys, { redis: { url: `redis://u:s3cret-pw@127.0.0.1:${port}` } })),
    );
    const r = await cli(['--config', cfg, '--jti', 'abc']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not reachable/);
    assert.doesNotMatch(r.stderr, /s3cret-pw/);
  });
});
