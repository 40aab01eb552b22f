// requiredAccess: the access each registry API request needs (SPEC §5, issue 4).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Scope } from '../../../src/protocol/scope.js';
import { type RouteAccess, requiredAccess } from '../../../src/proxy/access.js';
import { parseGoQuery } from '../../../src/proxy/go-query.js';

const D = `sha256:${'a'.repeat(64)}`;
const E = `sha256:${'b'.repeat(64)}`;

function access(method: string, url: string): RouteAccess {
  const q = url.indexOf('?');
  return requiredAccess(method, q < 0 ? url : url.slice(0, q), parseGoQuery(q < 0 ? '' : url.slice(q + 1)));
}

function scopes(method: string, url: string): Scope[] {
  const a = access(method, url);
  assert.equal(a.kind, 'scoped', `${method} ${url}: ${JSON.stringify(a)}`);
  return a.kind === 'scoped' ? a.scopes : [];
}

const repo = (name: string, ...actions: string[]): Scope => ({ type: 'repository', name, actions });

describe('requiredAccess: method and route table', () => {
  const cases: [string, string, Scope[]][] = [
    ['GET', '/v2/team/app/manifests/latest', [repo('team/app', 'pull')]],
    ['HEAD', '/v2/team/app/manifests/latest', [repo('team/app', 'pull')]],
    ['GET', `/v2/team/app/manifests/${D}`, [repo('team/app', 'pull')]],
    ['GET', `/v2/team/app/blobs/${D}`, [repo('team/app', 'pull')]],
    ['HEAD', `/v2/team/app/blobs/${D}`, [repo('team/app', 'pull')]],
    ['GET', '/v2/team/app/tags/list', [repo('team/app', 'pull')]],
    ['HEAD', '/v2/team/app/tags/list', [repo('team/app', 'pull')]],
    ['GET', `/v2/team/app/referrers/${D}`, [repo('team/app', 'pull')]],
    ['PUT', '/v2/team/app/manifests/v1', [repo('team/app', 'pull', 'push')]],
    ['PUT', `/v2/team/app/manifests/${D}`, [repo('team/app', 'pull', 'push')]],
    ['POST', '/v2/team/app/blobs/uploads/', [repo('team/app', 'pull', 'push')]],
    ['PATCH', '/v2/team/app/blobs/uploads/0b2c7e4a-uuid', [repo('team/app', 'pull', 'push')]],
    ['PUT', `/v2/team/app/blobs/uploads/0b2c7e4a-uuid?digest=${D}`, [repo('team/app', 'pull', 'push')]],
    ['GET', '/v2/team/app/blobs/uploads/0b2c7e4a-uuid', [repo('team/app', 'pull')]],
    ['DELETE', `/v2/team/app/manifests/${D}`, [repo('team/app', 'delete')]],
    ['DELETE', `/v2/team/app/blobs/${D}`, [repo('team/app', 'delete')]],
    ['DELETE', '/v2/team/app/blobs/uploads/0b2c7e4a-uuid', [repo('team/app', 'delete')]],
    // several path segments
    ['GET', '/v2/a/b/c/manifests/latest', [repo('a/b/c', 'pull')]],
    ['PUT', '/v2/a/b/c/d/e/manifests/v1', [repo('a/b/c/d/e', 'pull', 'push')]],
    ['GET', '/v2/a/b/c/tags/list', [repo('a/b/c', 'pull')]],
    ['POST', '/v2/a/b/c/blobs/uploads/', [repo('a/b/c', 'pull', 'push')]],
    // a one-segment name
    ['GET', '/v2/app/manifests/latest', [repo('app', 'pull')]],
    // a name that itself contains a route word
    ['GET', '/v2/team/manifests/app/manifests/v1', [repo('team/manifests/app', 'pull')]],
    ['GET', '/v2/blobs/tags/list', [repo('blobs', 'pull')]],
  ];
  for (const [method, url, want] of cases) {
    test(`${method} ${url}`, () => {
      const a = access(method, url);
      assert.equal(a.kind, 'scoped');
      if (a.kind !== 'scoped') return;
      assert.deepEqual(a.scopes, want);
      assert.equal(a.repository, want[0]!.name);
      assert.equal(a.mountFrom, undefined);
    });
  }

  test('/v2/ and /v2 are the base route (no scope)', () => {
    assert.deepEqual(access('GET', '/v2/'), { kind: 'base' });
    assert.deepEqual(access('GET', '/v2'), { kind: 'base' });
    assert.deepEqual(access('HEAD', '/v2/'), { kind: 'base' });
  });

  test('/v2/_catalog needs registry:catalog:*', () => {
    for (const url of ['/v2/_catalog', '/v2/_catalog?n=10', '/v2/_catalog?n=10&last=a%2Fb']) {
      const a = access('GET', url);
      assert.deepEqual(a, {
        kind: 'scoped',
        scopes: [{ type: 'registry', name: 'catalog', actions: ['*'] }],
        repository: undefined,
      });
    }
  });

  test('the catalog is read-only', () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const a = access(m, '/v2/_catalog');
      assert.equal(a.kind, 'invalid', m);
      if (a.kind === 'invalid') assert.equal(a.status, 405);
    }
  });
});

describe('requiredAccess: cross-repository mount', () => {
  test('POST uploads/?mount=D&from=y adds pull on y', () => {
    const a = access('POST', `/v2/team/x/blobs/uploads/?mount=${D}&from=team/y`);
    assert.equal(a.kind, 'scoped');
    if (a.kind !== 'scoped') return;
    assert.deepEqual(a.scopes, [repo('team/x', 'pull', 'push'), repo('team/y', 'pull')]);
    assert.equal(a.mountFrom, 'team/y');
    assert.equal(a.repository, 'team/x');
  });

  test('from may be URL-encoded and have several segments', () => {
    const a = access('POST', `/v2/x/blobs/uploads/?from=a%2Fb%2Fc&mount=${encodeURIComponent(D)}`);
    assert.equal(a.kind, 'scoped');
    if (a.kind !== 'scoped') return;
    assert.deepEqual(a.scopes, [repo('x', 'pull', 'push'), repo('a/b/c', 'pull')]);
    assert.equal(a.mountFrom, 'a/b/c');
  });

  test('a mount from the same repository adds nothing', () => {
    const a = access('POST', `/v2/team/x/blobs/uploads/?mount=${D}&from=team/x`);
    assert.equal(a.kind, 'scoped');
    if (a.kind !== 'scoped') return;
    assert.deepEqual(a.scopes, [repo('team/x', 'pull', 'push')]);
    assert.equal(a.mountFrom, undefined);
  });

  test('from without mount, or mount without from, adds nothing', () => {
    assert.deepEqual(scopes('POST', '/v2/team/x/blobs/uploads/?from=team/y'), [
      repo('team/x', 'pull', 'push'),
    ]);
    assert.deepEqual(scopes('POST', `/v2/team/x/blobs/uploads/?mount=${D}`), [
      repo('team/x', 'pull', 'push'),
    ]);
  });

  test('an invalid from name is refused (400 NAME_INVALID), not ignored', () => {
    const a = access('POST', `/v2/team/x/blobs/uploads/?mount=${D}&from=Team/Y`);
    assert.equal(a.kind, 'invalid');
    if (a.kind === 'invalid') assert.deepEqual([a.status, a.code], [400, 'NAME_INVALID']);
  });

  test('mount/from only count on the upload-start POST', () => {
    assert.deepEqual(scopes('PUT', `/v2/team/x/blobs/uploads/uuid-1?mount=${E}&from=team/y&digest=${E}`), [
      repo('team/x', 'pull', 'push'),
    ]);
    assert.deepEqual(scopes('GET', `/v2/team/x/blobs/${D}?mount=${D}&from=team/y`), [repo('team/x', 'pull')]);
  });
});

describe('requiredAccess: refusals', () => {
  test('invalid names (uppercase, bad characters) -> 400 NAME_INVALID', () => {
    for (const url of [
      '/v2/Team/App/manifests/latest',
      '/v2/team/App/tags/list',
      `/v2/team//app/blobs/${D}`,
      '/v2/-team/app/blobs/uploads/',
      '/v2/team/app!/manifests/v1',
      `/v2/${'a'.repeat(256)}/manifests/v1`,
    ]) {
      const a = access('GET', url);
      assert.equal(a.kind, 'invalid', url);
      if (a.kind !== 'invalid') continue;
      assert.equal(a.status, 400, url);
      assert.equal(a.code, 'NAME_INVALID', url);
    }
  });

  test('unknown routes -> 404', () => {
    for (const url of [
      '/v2/team/app',
      '/v2/team/app/whatever/x',
      '/v2/_catalogx',
      '/v2/team/app/manifests/',
      '/v3/',
    ]) {
      const a = access('GET', url);
      assert.equal(a.kind, 'invalid', url);
      if (a.kind === 'invalid') assert.equal(a.status, 404, url);
    }
  });

  test('unsupported methods -> 405', () => {
    for (const [m, url] of [
      ['OPTIONS', '/v2/team/app/manifests/latest'],
      ['TRACE', `/v2/team/app/blobs/${D}`],
      ['PUT', '/v2/team/app/tags/list'],
      ['DELETE', `/v2/team/app/referrers/${D}`],
    ] as const) {
      const a = access(m, url);
      assert.equal(a.kind, 'invalid', `${m} ${url}`);
      if (a.kind === 'invalid') assert.equal(a.status, 405, `${m} ${url}`);
    }
  });
});

describe('requiredAccess: properties', () => {
  const segment = fc.oneof(
    fc.constantFrom(
      'v2',
      'manifests',
      'blobs',
      'uploads',
      'tags',
      'list',
      'referrers',
      '_catalog',
      '',
      'a',
      'A',
      '..',
      D,
    ),
    fc.string({ maxLength: 12 }),
  );
  const method = fc.oneof(
    fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT'),
    fc.string({ maxLength: 8 }),
  );
  const query = fc.oneof(
    fc.constant(''),
    fc
      .record({ mount: fc.string({ maxLength: 80 }), from: fc.string({ maxLength: 40 }) })
      .map((r) => `mount=${encodeURIComponent(r.mount)}&from=${encodeURIComponent(r.from)}`),
    fc.string({ maxLength: 40 }),
  );

  test('random methods, paths and queries never throw and give a well-formed answer', () => {
    fc.assert(
      fc.property(method, fc.array(segment, { maxLength: 8 }), query, (m, segs, q) => {
        const path = `/v2/${segs.join('/')}`;
        const a = requiredAccess(m, path, parseGoQuery(q));
        if (a.kind === 'invalid') {
          assert.ok([400, 404, 405].includes(a.status), JSON.stringify(a));
          assert.equal(typeof a.code, 'string');
        } else if (a.kind === 'scoped') {
          assert.ok(a.scopes.length >= 1 && a.scopes.length <= 2);
          for (const s of a.scopes) assert.ok(s.actions.length > 0);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('every valid repository name and route maps to a scope on that name', () => {
    const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)?$/).filter((s) => s.length <= 20);
    const name = fc.array(component, { minLength: 1, maxLength: 5 }).map((c) => c.join('/'));
    fc.assert(
      fc.property(name, fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE'), (n, m) => {
        const a = requiredAccess(m, `/v2/${n}/manifests/latest`, []);
        assert.equal(a.kind, 'scoped', `${m} ${n}: ${JSON.stringify(a)}`);
        if (a.kind === 'scoped') assert.equal(a.scopes[0]!.name, n);
      }),
      { numRuns: 500 },
    );
  });
});
