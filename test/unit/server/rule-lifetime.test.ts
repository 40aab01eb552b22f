import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';
import {
  basic,
  cheapHash,
  configObject,
  decodeJwt,
  type KeyFiles,
  makeKeys,
  type RunningServer,
  startServer,
} from '../support.js';

// ACL rule `expiresIn`: a token lives as long as the shortest lifetime among the rules that
// granted it something (token.expiresIn for a rule without one), checked on issued tokens.
describe('per-rule token lifetime (acl[].expiresIn)', () => {
  let keys: KeyFiles & { cleanup: () => void };
  let s: RunningServer;
  before(async () => {
    keys = await makeKeys();
    s = await startServer(
      configObject(
        keys,
        {
          auth: { anonymous: true },
          users: { builder: cheapHash('pw') },
          acl: [
            { match: { account: 'builder', name: 'big/*' }, actions: ['pull', 'push'], expiresIn: 3600 },
            { match: { account: 'builder', name: 'short/*' }, actions: ['pull'], expiresIn: 90 },
            { match: { account: 'builder', name: 'never/*' }, actions: [], expiresIn: 60 },
            { match: { name: 'public/*' }, actions: ['pull'] },
          ],
        },
        { expiresIn: 300 },
      ),
      keys.dir,
    );
  });
  after(async () => {
    await s.close();
    keys.cleanup();
  });

  async function token(scopes: string[], user?: string) {
    const q = new URLSearchParams({ service: 'registry.test' });
    for (const sc of scopes) q.append('scope', sc);
    const res = await fetch(`${s.url}/token?${q}`, {
      headers: user ? { authorization: basic(user, 'pw') } : {},
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { token: string; expires_in: number };
    const claims = decodeJwt(body.token).payload as { exp: number; iat: number; nbf: number };
    return { lifetime: claims.exp - claims.iat, expiresIn: body.expires_in };
  }

  test("a long push gets the rule's longer lifetime, in exp and expires_in", async () => {
    assert.deepEqual(await token(['repository:big/app:pull,push'], 'builder'), {
      lifetime: 3600,
      expiresIn: 3600,
    });
  });

  test('a rule without expiresIn gives token.expiresIn', async () => {
    assert.deepEqual(await token(['repository:public/x:pull']), { lifetime: 300, expiresIn: 300 });
  });

  test('the shortest among the granted rules wins', async () => {
    assert.deepEqual(await token(['repository:big/app:pull,push', 'repository:short/x:pull'], 'builder'), {
      lifetime: 90,
      expiresIn: 90,
    });
    // A rule without one counts as token.expiresIn: a mount from public/ shortens the push.
    assert.deepEqual(await token(['repository:big/app:pull,push', 'repository:public/x:pull'], 'builder'), {
      lifetime: 300,
      expiresIn: 300,
    });
  });

  test('a rule that granted nothing does not shorten the token; nothing granted: the default', async () => {
    assert.deepEqual(await token(['repository:big/app:push', 'repository:never/x:pull'], 'builder'), {
      lifetime: 3600,
      expiresIn: 3600,
    });
    assert.deepEqual(await token(['repository:never/x:pull'], 'builder'), { lifetime: 300, expiresIn: 300 });
  });

  test('expiresIn out of 60..86400 is refused at load, naming the rule', () => {
    for (const bad of [59, 86401, 1.5]) {
      assert.throws(
        () =>
          buildConfig(
            configObject(keys, { acl: [{ match: {}, actions: ['pull'], expiresIn: bad }] }),
            'purser.yml',
            keys.dir,
          ),
        (e: unknown) => e instanceof ConfigError && e.path === 'acl[0].expiresIn',
      );
    }
  });
});
