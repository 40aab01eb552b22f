import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requiredAccess } from '../../../src/proxy/access.js';
import { manifestReference } from '../../../src/proxy/manifest-ref.js';

// Observed on distribution 2.8.2: these PUTs are read as tags and answered 500.
const ODD = [
  'sha256:abc',
  'foo:bar',
  `sha256:${'A'.repeat(64)}`,
  `sha512:${'a'.repeat(64)}`,
  `md5:${'a'.repeat(32)}`,
];

test('a reference is a digest exactly when go-digest parses it, else a tag, else refused', () => {
  assert.deepEqual(manifestReference(`sha256:${'a'.repeat(64)}`), { kind: 'digest' });
  assert.deepEqual(manifestReference(`sha384:${'0'.repeat(96)}`), { kind: 'digest' });
  assert.deepEqual(manifestReference(`sha512:${'f'.repeat(128)}`), { kind: 'digest' });
  for (const t of ['latest', 'v1.0.0', '_x', 'A-b.c_d', 'a'.repeat(128)])
    assert.deepEqual(manifestReference(t), { kind: 'tag', tag: t });
  for (const r of [...ODD, '.x', '-x', 'a'.repeat(129), ''])
    assert.deepEqual(manifestReference(r), { kind: 'invalid' });
});

test('manifest PUT and DELETE carry their tag; odd references are 400 DIGEST_INVALID', () => {
  const put = requiredAccess('PUT', '/v2/acme/app/manifests/v1', []);
  assert.equal(put.kind === 'scoped' && put.tag, 'v1');
  const del = requiredAccess('DELETE', '/v2/acme/app/manifests/latest', []);
  assert.equal(del.kind === 'scoped' && del.tag, 'latest');
  const byDigest = requiredAccess('PUT', `/v2/acme/app/manifests/sha256:${'a'.repeat(64)}`, []);
  assert.equal(byDigest.kind === 'scoped' && byDigest.tag, undefined);
  const get = requiredAccess('GET', '/v2/acme/app/manifests/latest', []);
  assert.equal(get.kind === 'scoped' && get.tag, undefined);
  for (const ref of ODD)
    for (const method of ['PUT', 'DELETE']) {
      const a = requiredAccess(method, `/v2/acme/app/manifests/${ref}`, []);
      assert.deepEqual(
        a.kind === 'invalid' && [a.status, a.code],
        [400, 'DIGEST_INVALID'],
        `${method} ${ref}`,
      );
    }
  // Reads keep going to the registry, whatever it answers.
  assert.equal(requiredAccess('GET', '/v2/acme/app/manifests/foo:bar', []).kind, 'scoped');
});
