// The examples/ apps run: each is started as a library user would, and answers token
// requests under /auth with its own users and rules.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as expressExample from '../../../examples/express.js';
import * as fastifyExample from '../../../examples/fastify.js';
import * as nodeHttpExample from '../../../examples/node-http.js';
import * as ownUsers from '../../../examples/own-user-table.js';
import { basic, claimsOf, form } from './support.js';

const access = async (res: Response) => {
  assert.equal(res.status, 200, await res.clone().text());
  return claimsOf(((await res.json()) as { token: string }).token).access;
};

describe('examples/', () => {
  for (const [name, example] of [
    ['node-http', nodeHttpExample],
    ['express', expressExample],
    ['fastify', fastifyExample],
  ] as const) {
    test(`${name}: alice pulls and pushes her own namespace under /auth, the app keeps its routes`, async () => {
      const app = await example.start();
      try {
        const got = await access(
          await fetch(
            `${app.origin}/auth/token?service=registry.local&scope=repository:alice/app:pull,push`,
            {
              headers: { authorization: basic('alice', 'alice-pw') },
            },
          ),
        );
        assert.deepEqual(got, [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }]);
        const posted = await fetch(
          `${app.origin}/auth/token`,
          form({ grant_type: 'password', username: 'alice', password: 'nope', service: 'registry.local' }),
        );
        assert.equal(posted.status, 401);
        assert.match(await (await fetch(`${app.origin}/`)).text(), /hello from the app/);
        assert.equal((await fetch(`${app.origin}/auth/readyz`)).status, 200);
      } finally {
        await app.close();
      }
    });
  }

  test("own-user-table: the app's roles decide (developer, reader, admin); unknown users are refused", async () => {
    const app = await ownUsers.start();
    const ask = (user: string, pw: string, scope: string) =>
      fetch(`${app.origin}/auth/token?scope=${encodeURIComponent(scope)}`, {
        headers: { authorization: basic(user, pw) },
      });
    try {
      assert.deepEqual(await access(await ask('alice', 'alice-pw', 'repository:team-a/x:pull,push,delete')), [
        { type: 'repository', name: 'team-a/x', actions: ['pull', 'push'] },
      ]);
      assert.deepEqual(await access(await ask('alice', 'alice-pw', 'repository:team-b/x:pull,push')), [
        { type: 'repository', name: 'team-b/x', actions: ['pull'] },
      ]);
      assert.deepEqual(await access(await ask('bob', 'bob-pw', 'repository:bob/x:pull,push')), [
        { type: 'repository', name: 'bob/x', actions: ['pull'] },
      ]);
      assert.deepEqual(await access(await ask('root', 'root-pw', 'repository:any/x:delete')), [
        { type: 'repository', name: 'any/x', actions: ['delete'] },
      ]);
      assert.equal((await ask('bob', 'alice-pw', 'repository:bob/x:pull')).status, 401);
      assert.equal((await ask('mallory', 'x', 'repository:bob/x:pull')).status, 401);
      const issued = await app.purser.issue(
        { account: 'bob', provider: 'app-users', labels: { role: 'reader', team: 'team-b' }, claims: {} },
        ['repository:bob/x:push'],
      );
      assert.deepEqual(claimsOf(issued.token).access, []);
    } finally {
      await app.close();
    }
  });
});
