import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuthnResult } from '../../../src/authn/authenticator.js';
import { buildConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';
import { Secret } from '../../../src/core/secret.js';
import { parseScopes } from '../../../src/protocol/scope.js';
import { buildApp } from '../../../src/server/app.js';
import { MemoryThrottleStore } from '../../../src/state/throttle.js';
import { createLogger, silentLogger } from '../../../src/util/log.js';
import {
  cheapHash,
  configObject,
  decodeJwt,
  type KeyFiles,
  makeKeys,
  purserError,
  writeFile,
} from '../support.js';

const get = (scopes: string[] = [], credentials?: { username: string; password: Secret }) => ({
  grant: 'get' as const,
  service: undefined,
  scopes: parseScopes(scopes),
  account: undefined,
  clientId: undefined,
  offline: false,
  credentials,
  refreshToken: undefined,
});

describe('buildApp', () => {
  let keys: KeyFiles & { cleanup: () => void };
  before(async () => {
    keys = await makeKeys();
  });
  after(() => keys.cleanup());

  async function rejectsConfig(obj: unknown, path: string, ...includes: string[]) {
    await assert.rejects(buildApp(buildConfig(obj, 'app.yml', keys.dir), silentLogger), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.path, path, e.message);
      for (const i of includes) assert.ok(e.message.includes(i), e.message);
      return true;
    });
  }

  test('htpasswd users (path relative to the config dir) and users: both authenticate', async () => {
    writeFile(keys.dir, 'users.htpasswd', `carol:${cheapHash('c-pw')}\n`);
    const app = await buildApp(
      buildConfig(
        configObject(keys, { htpasswd: 'users.htpasswd', users: { dave: cheapHash('d-pw') } }),
        undefined,
        keys.dir,
      ),
      silentLogger,
    );
    assert.equal(app.staticUsers.size, 2);
    assert.equal(
      (await app.tokens.authenticate({ username: 'carol', password: new Secret('c-pw') }, '::1')).account,
      'carol',
    );
    assert.equal(
      (await app.tokens.authenticate({ username: 'dave', password: new Secret('d-pw') }, '::1')).account,
      'dave',
    );
  });

  test('a user in both htpasswd and users: is refused naming users.NAME', async () => {
    writeFile(keys.dir, 'dup.htpasswd', `carol:${cheapHash('c-pw')}\n`);
    await rejectsConfig(
      configObject(keys, { htpasswd: 'dup.htpasswd', users: { carol: cheapHash('x') } }),
      'users.carol',
      'dup.htpasswd',
    );
  });

  test('a bad htpasswd line is refused naming the file and line', async () => {
    writeFile(keys.dir, 'bad.htpasswd', `carol:{SHA}abc=\n`);
    await assert.rejects(
      buildApp(
        buildConfig(configObject(keys, { htpasswd: 'bad.htpasswd' }), undefined, keys.dir),
        silentLogger,
      ),
      (e: unknown) =>
        e instanceof ConfigError && e.message.includes('bad.htpasswd') && e.message.includes('line 1'),
    );
  });

  test('no users, no providers and anonymous off is refused (nobody could ever log in)', async () => {
    await rejectsConfig(
      configObject(keys, { auth: { anonymous: false } }),
      'users',
      'no way to authenticate',
    );
  });

  test('a reload keeps the failed-login counts (the stores outlive it) under the limits now configured', async () => {
    const cfg = (max: number) =>
      buildConfig(
        configObject(keys, {
          users: { alice: cheapHash('pw') },
          auth: { failedLogins: { max, windowSeconds: 60 } },
        }),
        undefined,
        keys.dir,
      );
    const wrong = { username: 'alice', password: new Secret('wrong') };
    const first = await buildApp(cfg(2), silentLogger);
    for (let i = 0; i < 2; i++)
      await assert.rejects(first.tokens.authenticate(wrong, '10.1.1.1'), purserError('UNAUTHORIZED'));
    const same = await buildApp(cfg(2), silentLogger, undefined, { previous: first });
    assert.equal(same.stores.throttle, first.stores.throttle);
    await assert.rejects(
      same.tokens.authenticate(wrong, '10.1.1.1'),
      purserError('TOO_MANY_ATTEMPTS'),
      'the lockout survives the reload',
    );
    // Raised limits apply to the counts kept: two failures of five leave room.
    const changed = await buildApp(cfg(5), silentLogger, undefined, { previous: same });
    await assert.rejects(changed.tokens.authenticate(wrong, '10.1.1.1'), purserError('UNAUTHORIZED'));
  });

  test('two replicas with the same keys and one shared throttle store share a lockout', async () => {
    const config = buildConfig(
      configObject(keys, {
        users: { alice: cheapHash('pw') },
        auth: { failedLogins: { max: 2, windowSeconds: 60 } },
      }),
      undefined,
      keys.dir,
    );
    const shared = new MemoryThrottleStore();
    // Separate builds, as two processes would make them: only the keys and the store are shared.
    const a = await buildApp(config, silentLogger, undefined, { stores: { throttle: shared } });
    const b = await buildApp(config, silentLogger, undefined, { stores: { throttle: shared } });
    const wrong = { username: 'alice', password: new Secret('wrong') };
    await assert.rejects(a.tokens.authenticate(wrong, '10.2.2.2'), purserError('UNAUTHORIZED'));
    await assert.rejects(b.tokens.authenticate(wrong, '10.2.2.2'), purserError('UNAUTHORIZED'));
    await assert.rejects(
      a.tokens.authenticate({ username: 'alice', password: new Secret('pw') }, '10.2.2.2'),
      purserError('TOO_MANY_ATTEMPTS'),
      'both replicas counted under the same key',
    );
    assert.equal(shared.size, 1);
  });

  test('plaintext users are warned about by name, without their password', async () => {
    const lines: string[] = [];
    await buildApp(
      buildConfig(
        configObject(keys, { users: { bob: { password: 'bob-plain-Secret' } } }),
        undefined,
        keys.dir,
      ),
      createLogger({ write: (l) => lines.push(l) }),
    );
    const all = lines.join('');
    assert.match(all, /plaintext/);
    assert.match(all, /bob/);
    assert.ok(!all.includes('bob-plain-Secret'));
  });

  test('an unreadable key is INVALID_KEY naming the path', async () => {
    await assert.rejects(
      buildApp(
        buildConfig(
          configObject(keys, {}, { key: 'missing.key', certificate: undefined }),
          undefined,
          keys.dir,
        ),
        silentLogger,
      ),
      (e: unknown) =>
        e instanceof Error && 'code' in e && e.code === 'INVALID_KEY' && e.message.includes('missing.key'),
    );
  });

  test('library extension points: extra authenticators run first; a custom authorizer replaces the ACL', async () => {
    const app = await buildApp(
      buildConfig(configObject(keys, { users: { alice: cheapHash('pw') } }), undefined, keys.dir),
      silentLogger,
      undefined,
      {
        authenticators: [
          {
            kind: 'custom',
            authenticate: async (c): Promise<AuthnResult> =>
              c.username === 'robot'
                ? {
                    outcome: 'authenticated',
                    identity: { account: 'robot', provider: 'custom', labels: {}, claims: {} },
                  }
                : { outcome: 'no-match' },
          },
        ],
        authorizer: {
          authorize: (r) =>
            r.scopes.map((s) => ({
              requested: s,
              granted: s.actions.filter((a) => a !== 'delete'),
              rule: undefined,
              explanation: 'custom',
            })),
        },
      },
    );
    const out = await app.tokens.handle(
      get(['repository:x:pull,push,delete'], { username: 'robot', password: new Secret('anything') }),
      '::1',
    );
    assert.equal(out.identity.provider, 'custom');
    assert.deepEqual(decodeJwt(out.response.token).payload.access, [
      { type: 'repository', name: 'x', actions: ['pull', 'push'] },
    ]);
    const alice = await app.tokens.handle(get([], { username: 'alice', password: new Secret('pw') }), '::1');
    assert.equal(alice.identity.provider, 'static');
  });

  test('a when condition that does not compile names acl[i].when', async () => {
    await rejectsConfig(
      configObject(keys, {
        acl: [
          { match: {}, actions: ['pull'] },
          { match: {}, when: 'identity.account ==', actions: ['pull'] },
        ],
      }),
      'acl[1].when',
    );
  });

  test('a when condition sees identity and request', async () => {
    const app = await buildApp(
      buildConfig(
        configObject(keys, {
          users: { alice: cheapHash('pw') },
          acl: [
            {
              match: {},
              when: 'identity.account == "alice" && request.actions == ["pull"]',
              actions: ['pull', 'push'],
            },
            { match: {}, actions: [] },
          ],
        }),
        undefined,
        keys.dir,
      ),
      silentLogger,
    );
    const alice = { username: 'alice', password: new Secret('pw') };
    const pull = await app.tokens.handle(get(['repository:a:pull'], alice), '::1');
    assert.deepEqual(pull.decisions[0]?.granted, ['pull']);
    const push = await app.tokens.handle(get(['repository:a:pull,push'], alice), '::1');
    assert.deepEqual(push.decisions[0]?.granted, []);
    const anon = await app.tokens.handle(get(['repository:a:pull']), '::1');
    assert.deepEqual(anon.decisions[0]?.granted, []);
  });
});
