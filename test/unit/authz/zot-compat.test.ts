import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { main } from '../../../src/cli/main.js';
import { ZotDouble } from '../../helpers/zot-double.js';
import {
  basic,
  cheapHash,
  configObject,
  decodeJwt,
  type KeyFiles,
  makeKeys,
  type RunningServer,
  startServer,
  writeFile,
} from '../support.js';

// Zot is not packaged on this machine: these tests run Purser's tokens through ZotDouble,
// which does what Zot's bearer authorizer does (test/helpers/zot-double.ts).
const users = { admin: cheapHash('pw'), alice: cheapHash('pw'), bob: cheapHash('pw') };
const acl = [
  { match: { account: 'admin' }, actions: ['*'] },
  { match: { type: 'registry', name: 'catalog', account: 'alice' }, actions: ['*'] },
  { match: { account: 'alice', name: 'app' }, actions: ['pull', 'push'] },
  { match: { type: 'repository', name: '**', provider: 'static' }, actions: ['pull'] },
];

describe('token.compat: zot', () => {
  let keys: KeyFiles & { cleanup: () => void };
  let zot: RunningServer;
  let plain: RunningServer;
  let double: ZotDouble;
  before(async () => {
    keys = await makeKeys();
    zot = await startServer(configObject(keys, { users, acl }, { compat: 'zot' }), keys.dir);
    plain = await startServer(configObject(keys, { users, acl }), keys.dir);
    double = new ZotDouble(readFileSync(keys.crtPath, 'utf8'));
  });
  after(async () => {
    await zot.close();
    await plain.close();
    keys.cleanup();
  });

  async function get(s: RunningServer, user: string, scopes: string[]) {
    const q = new URLSearchParams({ service: 'registry.test' });
    for (const sc of scopes) q.append('scope', sc);
    const res = await fetch(`${s.url}/token?${q}`, { headers: { authorization: basic(user, 'pw') } });
    return {
      status: res.status,
      body: (await res.json()) as { token: string; errors?: { code: string; message: string }[] },
    };
  }
  const access = (token: string) => decodeJwt(token).payload.access;

  test('Zot\'s catalog scope repository::pull is granted as the catalog: {repository, "", [pull]}', async () => {
    const { status, body } = await get(zot, 'alice', ['repository::pull']);
    assert.equal(status, 200);
    assert.deepEqual(access(body.token), [{ type: 'repository', name: '', actions: ['pull'] }]);
    assert.equal(await double.authorize(body.token, '', 'pull'), true);
    // Only pull: listing is read-only, whatever else is asked for the empty name.
    const more = await get(zot, 'alice', ['repository::pull,push,delete']);
    assert.deepEqual(access(more.body.token), [{ type: 'repository', name: '', actions: ['pull'] }]);
  });

  test('without a catalog grant the empty name gets nothing, and Zot refuses the catalog', async () => {
    const { status, body } = await get(zot, 'bob', ['repository::pull']);
    assert.equal(status, 200);
    assert.deepEqual(access(body.token), []);
    assert.equal(await double.authorize(body.token, '', 'pull'), false);
  });

  test('a granted * is written as concrete actions, which Zot accepts', async () => {
    const { body } = await get(zot, 'admin', ['repository:app:*', 'repository:lib:pull,push']);
    assert.deepEqual(access(body.token), [
      { type: 'repository', name: 'app', actions: ['pull', 'push', 'delete'] },
      { type: 'repository', name: 'lib', actions: ['pull', 'push'] },
    ]);
    for (const a of ['pull', 'push', 'delete'] as const)
      assert.equal(await double.authorize(body.token, 'app', a), true);
    // A list rule answering * stays its list.
    const alice = await get(zot, 'alice', ['repository:app:*']);
    assert.deepEqual(access(alice.body.token), [
      { type: 'repository', name: 'app', actions: ['pull', 'push'] },
    ]);
  });

  test('without compat: * stays * (Zot refuses it) and repository::pull is a 400 naming token.compat', async () => {
    const star = await get(plain, 'admin', ['repository:app:*']);
    assert.deepEqual(access(star.body.token), [{ type: 'repository', name: 'app', actions: ['*'] }]);
    assert.equal(await double.authorize(star.body.token, 'app', 'push'), false);
    const cat = await get(plain, 'alice', ['repository::pull']);
    assert.equal(cat.status, 400);
    assert.match(JSON.stringify(cat.body), /token\.compat: zot/);
  });

  test("doctor's Zot block: one certificate, the iss/aud caveat, and the compat state", async () => {
    const run = async (compat: boolean) => {
      const cfg = configObject(keys, { users, acl }, compat ? { compat: 'zot' } : {});
      const f = writeFile(keys.dir, `doctor-${compat}.json`, JSON.stringify(cfg));
      let out = '';
      const code = await main(['doctor', '--config', f], {
        stdout: (x) => {
          out += x;
        },
        stderr: () => {},
        stdin: async () => '',
      });
      return { code, out: out.slice(out.indexOf('// Zot')) };
    };
    const on = await run(true);
    assert.match(on.out, /token\.compat: zot is set/);
    assert.match(on.out, /Zot checks neither iss nor aud/);
    assert.match(on.out, new RegExp(`"cert": "${keys.crtPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`));
    const off = await run(false);
    assert.match(off.out, /WARNING: set token\.compat: zot/);
  });
});
