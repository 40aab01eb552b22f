// Purser inside the real express and fastify: mounted under /auth, bodies parsed by their
// parsers first, readiness from the runtime, the app's own routes untouched.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { createLogger, createPurser, generateSigningKeyPair, type Purser } from '../../../src/index.js';
import purserFastify from '../../../src/library/fastify.js';
import { basic, claimsOf, form, ownNamespace, type Served, serve, userTable } from './support.js';

const quiet = createLogger({ write: () => {} });

const makePurser = () =>
  createPurser({
    issuer: 'adapters',
    services: 'registry.test',
    signingKeys: [generateSigningKeyPair('ES256').privateKey],
    authenticators: [userTable({ dana: 'dana-pw' })],
    authorizer: ownNamespace,
    logger: quiet,
  });

/** The checks every adapter must pass, against an origin where Purser is at /auth. */
function mountedChecks(origin: () => string) {
  test('GET /auth/token', async () => {
    const res = await fetch(`${origin()}/auth/token?scope=repository:dana/a:pull`, {
      headers: { authorization: basic('dana', 'dana-pw') },
    });
    assert.equal(res.status, 200);
    const claims = claimsOf(((await res.json()) as { token: string }).token);
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'dana/a', actions: ['pull'] }]);
  });

  test('POST /auth/token with a form the framework parsed first', async () => {
    const res = await fetch(
      `${origin()}/auth/token`,
      form({
        grant_type: 'password',
        username: 'dana',
        password: 'dana-pw',
        scope: 'repository:dana/b:push',
      }),
    );
    assert.equal(res.status, 200, await res.clone().text());
    const claims = claimsOf(((await res.json()) as { access_token: string }).access_token);
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'dana/b', actions: ['push'] }]);
  });

  test('POST /auth/token with a wrong password: 401 with OAuth fields', async () => {
    const res = await fetch(
      `${origin()}/auth/token`,
      form({ grant_type: 'password', username: 'dana', password: 'x' }),
    );
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
  });

  test('/auth/.well-known/jwks.json and /auth/readyz', async () => {
    const jwks = (await (await fetch(`${origin()}/auth/.well-known/jwks.json`)).json()) as {
      keys: unknown[];
    };
    assert.equal(jwks.keys.length, 1);
    assert.equal((await fetch(`${origin()}/auth/readyz`)).status, 200);
  });

  test("the app's own routes still answer", async () => {
    assert.equal(await (await fetch(`${origin()}/hello`)).text(), 'hello');
  });
}

describe('express: app.use("/auth", purser.handler)', () => {
  let purser: Purser;
  let app: Served;
  before(async () => {
    purser = await makePurser();
    const e = express();
    e.use(express.urlencoded({ extended: false }));
    e.use('/auth', purser.handler);
    e.get('/hello', (_req, res) => {
      res.send('hello');
    });
    app = await serve(e);
  });
  after(async () => {
    await purser.close();
    await app.close();
  });
  mountedChecks(() => app.origin);

  test('a path Purser does not know falls through to the app (next())', async () => {
    const res = await fetch(`${app.origin}/auth/unknown`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /Cannot GET \/auth\/unknown/);
  });
});

describe('fastify: app.register(purserFastify, { purser, prefix: "/auth" })', () => {
  let purser: Purser;
  let app: FastifyInstance;
  let origin = '';
  before(async () => {
    purser = await makePurser();
    app = Fastify();
    await app.register(purserFastify, { purser, prefix: '/auth' });
    app.get('/hello', async () => 'hello');
    origin = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await purser.close();
    await app.close();
  });
  mountedChecks(() => origin);

  test('after purser.close(), /auth/readyz is 503 while fastify still listens', async () => {
    const other = await makePurser();
    const f = Fastify();
    await f.register(purserFastify, { purser: other, prefix: '/auth' });
    const o = await f.listen({ host: '127.0.0.1', port: 0 });
    try {
      assert.equal((await fetch(`${o}/auth/readyz`)).status, 200);
      await other.close();
      assert.equal((await fetch(`${o}/auth/readyz`)).status, 503);
    } finally {
      await f.close();
    }
  });
});
