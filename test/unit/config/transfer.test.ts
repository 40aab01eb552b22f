// A primary hands its workers the config it validated (config/transfer.ts): what arrives must
// be the same Config — values, undefined properties, Secrets (revealing the same value,
// printing ***), frozen — whatever keys and strings the operator's YAML holds.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildConfig, type Config } from '../../../src/config/load.js';
import { decodeConfig, encodeConfig } from '../../../src/config/transfer.js';
import { Secret } from '../../../src/core/secret.js';
import { configObject, type KeyFiles, makeKeys } from '../support.js';

/** Both sides walked together: same shape, same values, Secrets compared by what they reveal. */
function assertSame(a: unknown, b: unknown, path = 'config'): void {
  if (a instanceof Secret) {
    assert.ok(b instanceof Secret, `${path}: not a Secret`);
    assert.equal(b.reveal(), a.reveal(), path);
    assert.equal(String(b), '***', path);
    return;
  }
  if (a === null || typeof a !== 'object') {
    assert.equal(b, a, path);
    return;
  }
  assert.ok(b !== null && typeof b === 'object', `${path}: not an object`);
  assert.ok(Object.isFrozen(b), `${path}: not frozen`);
  assert.equal(Array.isArray(b), Array.isArray(a), path);
  assert.deepEqual(Object.keys(b), Object.keys(a), `${path}: keys`);
  for (const k of Object.keys(a)) {
    assert.equal(k in (b as object), true, `${path}.${k}: missing`);
    assertSame((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
  }
}

describe('config transfer (primary → workers)', () => {
  let keys: KeyFiles & { cleanup: () => void };
  before(async () => {
    keys = await makeKeys();
  });
  after(() => keys.cleanup());

  const rich = (): Readonly<Config> =>
    buildConfig(
      configObject(keys, {
        auth: { anonymous: true, cacheSeconds: 30 },
        users: {
          alice: { password: 'plain secret', groups: ['dev'], labels: { team: 'a' } },
          // Keys an operator may write that look like the encoding's tags, or worse.
          s: { password: 'x' },
        },
        providers: [{ name: 'github', preset: 'github-actions', audience: 'registry.test' }],
        webhooks: {
          authz: {
            url: 'https://127.0.0.1:1/authz',
            secret: 'hook secret hook secret hook secret 0123',
            order: 'after-acl',
          },
        },
        proxy: {
          listen: '127.0.0.1:0',
          upstream: 'http://127.0.0.1:5000',
          upstreamAuth: { basic: { username: 'u', password: 'pw' } },
        },
        acl: [
          { match: { account: 'alice', name: 'alice/**' }, actions: ['*'] },
          { match: { account: '', name: '/public/[a-z]+/' }, when: 'request.ip != ""', actions: ['pull'] },
        ],
      }),
      'purser.yml',
      keys.dir,
    );

  test('a rich config arrives the same: values, undefined properties, Secrets, frozen', () => {
    const config = rich();
    const text = encodeConfig(config);
    const back = decodeConfig(text);
    assertSame(config, back);
    // The Secrets travel (an IPC link of this server's own processes), and come back wrapped.
    assert.match(text, /plain secret/);
    assert.equal(JSON.stringify(back).includes('plain secret'), false, 'a decoded Secret prints its value');
    // A `__proto__` key (the loader drops it; the transfer must not depend on that) stays a
    // key, and sets no prototype.
    const odd = JSON.parse('{"users": {"__proto__": {"polluted": true}}, "s": {"u": 1}}') as Config;
    const oddBack = decodeConfig(encodeConfig(odd)) as unknown as Record<string, Record<string, unknown>>;
    assert.ok(Object.hasOwn(oddBack.users!, '__proto__'));
    assert.equal(Object.getPrototypeOf(oddBack.users), Object.prototype);
    assert.equal((oddBack.users as { polluted?: unknown }).polluted, undefined);
    assert.deepEqual(oddBack.s, { u: 1 }, 'a value shaped like a tag is a value');
  });

  test('a value it cannot carry is refused naming it, never garbled', () => {
    const config = { ...rich(), extra: { when: new Date(0) } } as unknown as Config;
    assert.throws(() => encodeConfig(config), /extra\.when/);
    assert.throws(() => encodeConfig({ ...rich(), n: Number.NaN } as unknown as Config), /n is not a finite/);
  });
});
