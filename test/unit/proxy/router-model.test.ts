// Differential property test (issue 8): whatever the proxy lets through, the registry (a
// reference model of distribution 2.8's router and FormValue, test/helpers/distribution-router.ts)
// acts on the repository and route the proxy checked, needing no access the proxy did not check.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { requiredAccess } from '../../../src/proxy/access.js';
import { canonicalTarget, encodePath } from '../../../src/proxy/canonical.js';
import { formatGoQuery } from '../../../src/proxy/go-query.js';
import { type ModelRequest, registryAction, registryNeeds } from '../../helpers/distribution-router.js';

const D = `sha256:${'a'.repeat(64)}`;

const segment = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('team', 'app', 'a', 'b-c', 'x.y', 'localhost:5000', 'Team', '__', '-a'),
  },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'manifests',
      'blobs',
      'uploads',
      'tags',
      'list',
      '_catalog',
      'referrers',
      'v1',
      D,
    ),
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '',
      '.',
      '..',
      '%2e',
      '%2E.',
      '%2e%2e',
      '%2F',
      '%2f',
      '%252F',
      '%25',
      '%zz',
      '%',
      'a%2Fb',
      'leak%2Fmanifests%2F1',
      'x%2Fblobs%2Fuploads',
      '%61pp',
      '%76%31',
      '+',
      'a;b',
      '%3F',
      '%00',
      'uu-id=',
      'sha256:abc',
      '%73ha256:abc',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);

const key = fc.constantFrom(
  'mount',
  'from',
  'digest',
  '_state',
  'n',
  'last',
  'mo%75nt',
  'fr%6Fm',
  'from;',
  '',
);
const value = fc.constantFrom(
  D,
  encodeURIComponent(D),
  'team/secret',
  'team%2Fsecret',
  'carol/x',
  'carol/x;',
  'a;b',
  '%zz',
  '',
  'Team/Y',
  '+',
);
const rawQuery = fc.oneof(
  fc.constant(''),
  fc
    .array(fc.tuple(key, value), { maxLength: 4 })
    .chain((pairs) => fc.constantFrom('&', ';').map((sep) => pairs.map(([k, v]) => `${k}=${v}`).join(sep))),
);
const contentType = fc.constantFrom(
  undefined,
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  ' Application/X-WWW-Form-Urlencoded; charset=utf-8',
  'multipart/form-data; boundary=x',
  'MULTIPART/FORM-DATA',
  'application/vnd.oci.image.manifest.v1+json',
);
const bodyFields = fc.array(
  fc.tuple(fc.constantFrom('mount', 'from', 'digest'), fc.constantFrom(D, 'team/secret')),
  {
    maxLength: 3,
  },
);
// Route-shaped paths (a name, then a route's tail), with odd segments mixed in, reach the
// registry's routes far more often than free sequences of segments.
const name = fc.array(
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom('team', 'app', 'x.y', 'b-c') }, segment),
  {
    minLength: 1,
    maxLength: 3,
  },
);
const tail = fc.oneof(
  fc.tuple(fc.constantFrom('manifests', 'blobs', 'uploads', 'referrers'), segment).map((t) => [...t]),
  fc.constantFrom(
    ['manifests', 'v1'],
    ['manifests', D],
    ['blobs', D],
    ['blobs', 'uploads', ''],
    ['blobs', 'uploads'],
    ['blobs', 'uploads', 'uu-id'],
    ['tags', 'list'],
    ['referrers', D],
  ),
);
const routeShaped = fc
  .tuple(name, tail, fc.array(segment, { maxLength: 2 }), fc.nat(4))
  .map(([n, t, extra, at]) => {
    const segs = [...n, ...t];
    segs.splice(Math.min(at, segs.length), 0, ...extra);
    return segs;
  });
const request: fc.Arbitrary<ModelRequest> = fc
  .record({
    method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'),
    prefix: fc.constantFrom('/v2/', '/v2/', '/v2/', '/v2//', '/v2/%2e/', '/v2'),
    segs: fc.oneof(fc.array(segment, { minLength: 0, maxLength: 7 }), routeShaped, routeShaped),
    slash: fc.boolean(),
    query: rawQuery,
    contentType,
    bodyFields,
  })
  .map((r) => {
    const path = `${r.prefix}${r.segs.join('/')}${r.slash ? '/' : ''}`;
    return {
      method: r.method,
      target: r.query ? `${path}?${r.query}` : path,
      ...(r.contentType ? { contentType: r.contentType } : {}),
      bodyFields: r.bodyFields,
    };
  });

/** The request the proxy forwards, with the access it checked; undefined when it refuses. */
function proxy(req: ModelRequest) {
  const t = canonicalTarget(req.target);
  if (!t.ok) return undefined;
  const access = requiredAccess(req.method, t.path, t.query, req.contentType);
  if (access.kind === 'invalid') return undefined;
  const qs = formatGoQuery(t.query);
  // Forwarded with the mount kept: the case where the caller may pull from the source.
  const forwarded: ModelRequest = { ...req, target: encodePath(t.path) + (qs ? `?${qs}` : '') };
  return { access, forwarded };
}

describe('proxy route decisions against a model of distribution 2.8', () => {
  test('what the proxy forwards, the registry acts on exactly as checked (20,000 generated requests)', () => {
    let forwardedRoutes = 0;
    fc.assert(
      fc.property(request, (req) => {
        const p = proxy(req);
        if (!p) return;
        const reg = registryAction(p.forwarded);
        const why = `${req.method} ${req.target} [${req.contentType}] -> ${p.forwarded.target}: ${JSON.stringify(reg)} vs ${JSON.stringify(p.access)}`;
        if (reg.kind !== 'route') return;
        forwardedRoutes++;
        if (reg.route === 'base') return assert.equal(p.access.kind, 'base', why);
        assert.equal(p.access.kind, 'scoped', why);
        if (p.access.kind !== 'scoped') return;
        if (reg.route === 'catalog') {
          assert.deepEqual(p.access.scopes, [{ type: 'registry', name: 'catalog', actions: ['*'] }], why);
          return;
        }
        assert.equal(p.access.repository, reg.name, why);
        for (const need of registryNeeds(req.method, reg)) {
          const s = p.access.scopes.find((x) => x.type === 'repository' && x.name === need.name);
          assert.ok(
            s && need.actions.every((a) => s.actions.includes(a)),
            `needs ${JSON.stringify(need)}: ${why}`,
          );
        }
      }),
      { numRuns: 20_000, seed: 8 },
    );
    // The generator must reach the interesting cases, not only refusals.
    assert.ok(forwardedRoutes > 800, `only ${forwardedRoutes} forwarded requests were routed`);
  });

  test('a request the registry routes on its own is routed the same after the proxy canonicalises it', () => {
    fc.assert(
      fc.property(request, (req) => {
        const p = proxy(req);
        if (!p) return;
        const direct = registryAction(req);
        if (direct.kind !== 'route') return;
        const via = registryAction(p.forwarded);
        assert.deepEqual(
          { ...via, mountFrom: undefined },
          { ...direct, mountFrom: undefined },
          `${req.method} ${req.target} -> ${p.forwarded.target}`,
        );
      }),
      { numRuns: 10_000, seed: 9 },
    );
  });

  test('ordinary client requests pass (no false refusals on the common shapes)', () => {
    for (const [method, target, ct] of [
      ['GET', '/v2/', undefined],
      ['GET', '/v2/team/app/manifests/v1', undefined],
      ['GET', `/v2/team/app/blobs/${D}`, undefined],
      ['GET', '/v2/team/app/tags/list?n=10&last=v1', undefined],
      ['POST', '/v2/team/app/blobs/uploads/', undefined],
      ['POST', `/v2/team/app/blobs/uploads/?from=team%2Fbase&mount=${encodeURIComponent(D)}`, undefined],
      ['PATCH', '/v2/team/app/blobs/uploads/0b2c-7e4a?_state=abc%3D%3D', 'application/octet-stream'],
      [
        'PUT',
        `/v2/team/app/blobs/uploads/0b2c-7e4a?_state=abc%3D%3D&digest=${D}`,
        'application/octet-stream',
      ],
      ['PUT', '/v2/localhost:5000/app/manifests/v1', 'application/vnd.oci.image.manifest.v1+json'],
      ['DELETE', `/v2/team/app/manifests/${D}`, undefined],
      ['GET', '/v2/_catalog?n=5', undefined],
    ] as const) {
      const p = proxy({ method, target, ...(ct ? { contentType: ct } : {}) });
      assert.ok(p, `${method} ${target} refused`);
      const reg = registryAction(p.forwarded);
      assert.equal(reg.kind, 'route', `${method} ${target}`);
    }
  });
});
