// The request target as the registry parses it (issue 8): Go's url.ParseQuery and path
// decoding, absolute-form targets, and the refusals that keep raw and decoded shapes equal.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalTarget, encodePath } from '../../../src/proxy/canonical.js';
import { formatGoQuery, parseGoQuery, readsFormBody } from '../../../src/proxy/go-query.js';
import { goParseQuery } from '../../helpers/distribution-router.js';

describe('parseGoQuery: Go >= 1.17 url.ParseQuery', () => {
  test('drops pairs with ; or a bad escape, keeps order and repeats, + is a space', () => {
    assert.deepEqual(parseGoQuery('mount=D&from=%zz&from=team/secret'), [
      ['mount', 'D'],
      ['from', 'team/secret'],
    ]);
    assert.deepEqual(parseGoQuery('mount=D&from=a;b&from=team/secret'), [
      ['mount', 'D'],
      ['from', 'team/secret'],
    ]);
    assert.deepEqual(parseGoQuery('a=1+2&&b&=x&c=%41%2F&d=%'), [
      ['a', '1 2'],
      ['b', ''],
      ['', 'x'],
      ['c', 'A/'],
    ]);
    assert.deepEqual(parseGoQuery('fr%6Fm=x;y'), []);
  });

  test('the canonical form parses back (Go way) to exactly the checked pairs', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (raw) => {
        const pairs = parseGoQuery(raw);
        assert.deepEqual(parseGoQuery(formatGoQuery(pairs)), pairs);
        assert.deepEqual(goParseQuery(formatGoQuery(pairs)), pairs);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('readsFormBody: what Go FormValue would read as form fields', () => {
  test('urlencoded and multipart in any case and spacing; non-ASCII counts', () => {
    for (const ct of [
      'application/x-www-form-urlencoded',
      ' Application/X-WWW-Form-Urlencoded ; charset=utf-8',
      'multipart/form-data; boundary=x',
      'MULTIPART/FORM-DATA',
      'multipart/mixed',
      '\u00a0application/x-www-form-urlencoded',
    ])
      assert.equal(readsFormBody(ct), true, ct);
    for (const ct of [
      undefined,
      '',
      'application/octet-stream',
      'application/vnd.oci.image.manifest.v1+json',
    ])
      assert.equal(readsFormBody(ct), false, String(ct));
  });
});

describe('canonicalTarget', () => {
  test('decodes ordinary escapes; accepts absolute-form; the authority is ignored', () => {
    assert.deepEqual(canonicalTarget('/v2/%61pp/manifests/%76%31?n=1'), {
      ok: true,
      path: '/v2/app/manifests/v1',
      query: [['n', '1']],
    });
    assert.deepEqual(canonicalTarget('http://evil.example:99/v2/app/tags/list'), {
      ok: true,
      path: '/v2/app/tags/list',
      query: [],
    });
    assert.deepEqual(canonicalTarget('HTTPS://h?x=1'), { ok: true, path: '/', query: [['x', '1']] });
  });

  test("refuses escapes of '/' or '%', bad escapes, empty and dot segments (decoded or not)", () => {
    for (const t of [
      '/v2/team/app/manifests/leak%2Fmanifests%2F1',
      '/v2/team/app/manifests/leak%2fx',
      '/v2/team/app/manifests/%252F',
      '/v2/team/app/manifests/%zz',
      '/v2/team/app/manifests/%',
      '/v2/team//app/manifests/v1',
      '/v2/team/./app/manifests/v1',
      '/v2/team/x/../app/manifests/v1',
      '/v2/team/x/%2e%2e/app/manifests/v1',
      '/v2/team/x/%2E./app/manifests/v1',
      '/v2/team/app/manifests/v1/..',
      '/v2/team/app/manifests/v1/%2e',
    ]) {
      const r = canonicalTarget(t);
      assert.equal(r.ok, false, t);
    }
  });

  test('encodePath escapes what is not a path character and round-trips through decoding', () => {
    assert.equal(encodePath('/v2/a b/manifests/v?1'), '/v2/a%20b/manifests/v%3F1');
    assert.equal(
      encodePath('/v2/localhost:5000/app/blobs/sha256:ab'),
      '/v2/localhost:5000/app/blobs/sha256:ab',
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ maxLength: 6 }).filter((s) => !s.includes('/')),
          { maxLength: 5 },
        ),
        (segs) => {
          const p = `/${segs.join('/')}`;
          const r = canonicalTarget(encodePath(p));
          if (r.ok) assert.equal(r.path, p);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
