import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Identity } from '../../../src/core/identity.js';
import { parseScope } from '../../../src/protocol/scope.js';
import { identityClaims, identityFromClaims } from '../../../src/token/proxy-identity.js';

const ci: Identity = {
  account: 'acme/app',
  provider: 'github',
  labels: { team: 'core' },
  claims: { ref: 'refs/heads/main', repository: 'acme/app' },
};

test('tokens that can push, delete or list the catalog carry the identity; pull-only ones do not', () => {
  for (const s of [
    'repository:acme/app:pull,push',
    'repository:acme/app:delete',
    'repository:x:*',
    'registry:catalog:*',
  ])
    assert.deepEqual(
      identityClaims(ci, [parseScope(s)]),
      { prv: 'github', lbl: ci.labels, clm: ci.claims },
      s,
    );
  assert.equal(identityClaims(ci, [parseScope('repository:acme/app:pull')]), undefined);
  assert.equal(identityClaims(ci, []), undefined);
  const alice: Identity = { account: 'alice', provider: 'static', labels: {}, claims: {} };
  assert.deepEqual(identityClaims(alice, [parseScope('repository:a:push')]), { prv: 'static' });
});

test('the identity is read back from verified claims; a token without prv has none', () => {
  assert.deepEqual(
    identityFromClaims({ sub: 'acme/app', prv: 'github', lbl: ci.labels, clm: ci.claims }),
    ci,
  );
  assert.deepEqual(identityFromClaims({ sub: '', prv: 'anonymous' }), {
    account: '',
    provider: 'anonymous',
    labels: {},
    claims: {},
  });
  assert.equal(identityFromClaims({ sub: 'alice' }), undefined);
  // Junk in lbl/clm (a hand-made token signed by the same key) is dropped, not trusted as a shape.
  assert.deepEqual(identityFromClaims({ sub: 'a', prv: 'static', lbl: { x: 1, y: 'ok' }, clm: [1] }), {
    account: 'a',
    provider: 'static',
    labels: { y: 'ok' },
    claims: {},
  });
});
