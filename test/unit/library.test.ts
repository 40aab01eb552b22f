// Purser as a library: the public entry point, a custom authenticator and a custom authorizer
// plugged into buildApp, served by the same HTTP front as the CLI's.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeKeyPair } from '../../src/cli/keys.js';
import {
  type Authenticator,
  type Authorizer,
  buildApp,
  buildConfig,
  type Identity,
  Metrics,
  TokenHttpServer,
} from '../../src/index.js';
import { silentLogger } from '../../src/util/log.js';
import { tempDir } from './support.js';

/** Accepts any user whose password is its name reversed: a stand-in for LDAP or a database. */
const reversedNames: Authenticator = {
  kind: 'reversed',
  async authenticate(c) {
    if (!c.username.startsWith('ext-')) return { outcome: 'no-match' };
    if (c.password.reveal() !== [...c.username].reverse().join(''))
      return { outcome: 'rejected', reason: 'wrong' };
    const identity: Identity = {
      account: c.username,
      provider: 'reversed',
      labels: { team: 'x' },
      claims: {},
    };
    return { outcome: 'authenticated', identity };
  },
};

/** Grants pull on repositories under the caller's own name, whatever the config's ACL says. */
const ownNamespace: Authorizer = {
  authorize(req) {
    return req.scopes.map((s) => {
      const mine = s.type === 'repository' && s.name.startsWith(`${req.identity.account}/`);
      const granted = mine ? s.actions.filter((a) => a === 'pull') : [];
      return { requested: s, granted, rule: undefined, explanation: mine ? 'own namespace' : 'not yours' };
    });
  },
};

describe('library API', () => {
  const tmp = tempDir('purser-lib-');
  let server: TokenHttpServer;
  let url: URL;

  before(async () => {
    await writeKeyPair(join(tmp.dir, 'k'), 'ES256');
    const config = buildConfig(
      {
        listen: '127.0.0.1:0',
        token: { issuer: 'lib', service: 'svc', key: 'k/token.key' },
        acl: [{ match: {}, actions: [] }],
      },
      undefined,
      tmp.dir,
    );
    const metrics = new Metrics();
    const app = await buildApp(config, silentLogger, metrics, {
      authenticators: [reversedNames],
      authorizer: ownNamespace,
    });
    server = new TokenHttpServer(app, silentLogger, metrics);
    url = await server.listen('127.0.0.1:0');
  });

  after(async () => {
    await server?.close();
    tmp.cleanup();
  });

  const get = (user: string, pw: string, scope: string) =>
    fetch(`${url.origin}/token?service=svc&scope=${encodeURIComponent(scope)}`, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` },
    });

  test('a custom authenticator and authorizer decide the token', async () => {
    const res = await get('ext-bob', 'bob-txe', 'repository:ext-bob/app:pull,push');
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    assert.equal(claims.sub, 'ext-bob');
    assert.equal(claims.iss, 'lib');
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'ext-bob/app', actions: ['pull'] }]);
  });

  test("the custom authorizer's denial is a 200 with no access", async () => {
    const res = await get('ext-bob', 'bob-txe', 'repository:other/app:pull');
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    assert.deepEqual(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).access, []);
  });

  test("the custom authenticator's rejection is a 401", async () => {
    const res = await get('ext-bob', 'wrong', 'repository:ext-bob/app:pull');
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  });

  test('names it does not claim fall through to the built-in ones (here: none, so 401)', async () => {
    const res = await get('alice', 'x', 'repository:alice/app:pull');
    assert.equal(res.status, 401);
  });
});
