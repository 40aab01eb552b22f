import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryThrottleStore } from '../../../src/state/throttle.js';
import type { AccessEntry } from '../../../src/token/signer.js';
import { VerifiedTokenCache } from '../../../src/token/verified-cache.js';
import { createLogger, LOG_LIMITS } from '../../../src/util/log.js';
import { basic, cheapHash, configObject, makeKeys, startServer } from '../support.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** A distinct, flat 47 KB username (a fresh string, as each request's header is). */
function longName(i: number): string {
  return `${'u'.repeat(47_000)}${i}`.split('').join('');
}

describe('attacker-controlled memory and logs stay bounded (issue 8 hole 6)', () => {
  test('50,000 distinct 47 KB usernames keep the failed-login limiter under 20 MiB', async () => {
    const limiter = new MemoryThrottleStore();
    const policy = { max: 10, windowSeconds: 60 };
    const before = heapMiB();
    const base = 'u'.repeat(47_000);
    let grown = 0;
    for (let i = 0; i < 50_000; i++) {
      // Concatenation then hashing flattens the key: what a Map would keep is 47 KB.
      await limiter.fail(`10.0.0.1\u0000${base}${i}`, policy);
      if (i % 5000 === 999) {
        grown = heapMiB() - before;
        // Fail early on a limiter that keeps the names (2.3 GB at the end) instead of crashing.
        assert.ok(grown < 20, `limiter grew by ${grown.toFixed(1)} MiB after ${i + 1} usernames`);
      }
    }
    assert.equal(limiter.size, 50_000);
    grown = heapMiB() - before;
    assert.ok(grown < 20, `limiter grew by ${grown.toFixed(1)} MiB`);
    console.log(`50,000 limiter windows: +${grown.toFixed(1)} MiB heap`);
  });

  test('the limiter forgets windows that have ended', async () => {
    let now = 1_700_000_000_000;
    const l = new MemoryThrottleStore({ now: () => now });
    const policy = { max: 10, windowSeconds: 60 };
    for (let i = 0; i < 1000; i++) await l.fail(`ip\u0000user${i}`, policy);
    now += 61_000;
    for (let i = 0; i < 1000; i++) await l.fail(`ip\u0000later${i}`, policy);
    assert.equal(l.size, 1000);
  });

  test('the limiter keeps at most maxKeys windows: the oldest is forgotten', async () => {
    const l = new MemoryThrottleStore({ maxKeys: 2 });
    const policy = { max: 1, windowSeconds: 60 };
    for (const k of ['a', 'b', 'c']) await l.fail(k, policy);
    assert.equal(await l.retryAfter('a', policy), 0);
    assert.ok((await l.retryAfter('b', policy)) > 0);
    assert.ok((await l.retryAfter('c', policy)) > 0);
  });

  test('verified bearer tokens are keyed by a hash and bounded in bytes', () => {
    const cache = new VerifiedTokenCache(10_000, 4 * 2 ** 20);
    const access: AccessEntry[] = Array.from({ length: 64 }, (_, i) => ({
      type: 'repository',
      name: `team/${'n'.repeat(200)}${i}`,
      actions: ['pull', 'push'],
    }));
    const before = heapMiB();
    const until = Date.now() + 600_000;
    for (let i = 0; i < 2000; i++) {
      const token = `${'t'.repeat(47_000)}${i}`;
      cache.set(token, { sub: 'alice', access: [...access], exp: until / 1000, jti: '' }, until);
    }
    const grown = heapMiB() - before;
    assert.ok(cache.bytes <= 4 * 2 ** 20, `${cache.bytes} bytes counted`);
    // The access lists are counted; the tokens (47 KB each, 94 MB for 2000) are not kept.
    assert.ok(grown < 12, `cache grew by ${grown.toFixed(1)} MiB`);
    const last = `${'t'.repeat(47_000)}1999`;
    assert.equal(cache.get(last)?.sub, 'alice');
  });

  test('log values are truncated: a 47 KB username and 64 long scopes make a short line', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    const scopes = Array.from({ length: 64 }, (_, i) => `repository:${'s'.repeat(700)}${i}:pull`);
    log.warn('token request refused', {
      account: longName(1),
      scope: scopes,
      path: `/${'p'.repeat(10_000)}`,
    });
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.ok(line.length < 8 * 1024, `${line.length} chars`);
    const rec = JSON.parse(line) as { account: string; scope: string[] };
    assert.ok(rec.account.startsWith('uuu') && rec.account.includes('(+'), 'says how much was cut');
    assert.equal(rec.scope.length, LOG_LIMITS.items + 1);
    log.error('unexpected error', { error: `Error: x\n${'    at f (file.js:1:1)\n'.repeat(60)}` });
    assert.ok(JSON.parse(lines[1]!).error.length > 1000, 'stack traces keep more');
  });

  test('token server: 50 refused logins with 47 KB usernames log bounded lines', async () => {
    const k = await makeKeys();
    const srv = await startServer(
      // A cost-4 user: the refusals imitate a cheap bcrypt, so the test is quick.
      configObject(k, { users: { alice: cheapHash('pw') }, auth: { anonymous: false } }),
      k.dir,
      { captureLogs: true },
    );
    try {
      const scope = Array.from({ length: 8 }, (_, i) => `scope=repository:${'r'.repeat(200)}${i}:pull`).join(
        '&',
      );
      for (let i = 0; i < 50; i++) {
        const r = await fetch(`${srv.url}/token?service=registry.test&${scope}`, {
          headers: { authorization: basic(`${'m'.repeat(47_000)}${i}`, 'x') },
        });
        assert.equal(r.status, 401);
        await r.arrayBuffer();
      }
      const refused = srv.logs.filter((l) => l.includes('token request refused'));
      assert.equal(refused.length, 50);
      const longest = Math.max(...srv.logs.map((l) => l.length));
      assert.ok(longest < 8 * 1024, `longest log line ${longest} chars`);
      console.log(`50 refused 47 KB logins: ${srv.logs.join('').length} log bytes, longest line ${longest}`);
    } finally {
      await srv.close();
      k.cleanup();
    }
  });
});
