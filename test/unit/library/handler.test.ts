// The mountable handler's routing: each known route is matched as a path suffix under any
// prefix, and nothing else is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, createPurser, generateSigningKeyPair } from '../../../src/index.js';
import { ROUTES, routeOf } from '../../../src/library/handler.js';
import { serve } from './support.js';

test('routeOf: known suffixes under any prefix; look-alikes are not routes', () => {
  assert.equal(routeOf('/token'), '/token');
  assert.equal(routeOf('/auth/token'), '/token');
  assert.equal(routeOf('/a/b/.well-known/jwks.json'), '/.well-known/jwks.json');
  assert.equal(routeOf('/auth/mytoken'), undefined);
  assert.equal(routeOf('/auth/token/'), undefined);
  assert.equal(routeOf('/auth/token/x'), undefined);
  assert.equal(routeOf('/'), undefined);
});

test('every route in ROUTES is one the token server answers (none is a 404)', async () => {
  const purser = await createPurser({
    issuer: 'x',
    services: 's',
    signingKeys: [generateSigningKeyPair('ES256').privateKey],
    authenticators: [{ kind: 'none', authenticate: async () => ({ outcome: 'no-match' }) }],
    acl: [{ match: {}, actions: [] }],
    logger: createLogger({ write: () => {} }),
  });
  const app = await serve(purser.handler);
  try {
    for (const r of ROUTES) {
      const res = await fetch(`${app.origin}/mounted/here${r}`);
      await res.arrayBuffer();
      assert.notEqual(res.status, 404, r);
    }
    assert.equal((await fetch(`${app.origin}/mounted/here/other`)).status, 404);
  } finally {
    await purser.close();
    await app.close();
  }
});
