import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isPurserError } from '../../../src/core/errors.js';
import { formatScope, MAX_SCOPES, parseScope, parseScopes, type Scope } from '../../../src/protocol/scope.js';
import { purserError } from '../support.js';

describe('parseScope: valid scopes', () => {
  const cases: [string, Scope][] = [
    ['repository:team/app:pull,push', { type: 'repository', name: 'team/app', actions: ['pull', 'push'] }],
    ['repository:app:pull', { type: 'repository', name: 'app', actions: ['pull'] }],
    [
      'repository:localhost:5000/team/app:pull',
      { type: 'repository', name: 'localhost:5000/team/app', actions: ['pull'] },
    ],
    [
      'repository:registry.example.com/a/b:push',
      { type: 'repository', name: 'registry.example.com/a/b', actions: ['push'] },
    ],
    ['repository:[::1]:5000/a:pull', { type: 'repository', name: '[::1]:5000/a', actions: ['pull'] }],
    ['registry:catalog:*', { type: 'registry', name: 'catalog', actions: ['*'] }],
    ['repository(plugin):x/y:pull', { type: 'repository', class: 'plugin', name: 'x/y', actions: ['pull'] }],
    ['repository:a/b:', { type: 'repository', name: 'a/b', actions: [] }],
    ['repository:a:pull,frobnicate', { type: 'repository', name: 'a', actions: ['pull'] }],
    ['repository:a:frobnicate', { type: 'repository', name: 'a', actions: [] }],
    ['repository:a:pull,pull,push', { type: 'repository', name: 'a', actions: ['pull', 'push'] }],
    ['repository:a:push,pull', { type: 'repository', name: 'a', actions: ['push', 'pull'] }],
    ['repository:a:*', { type: 'repository', name: 'a', actions: ['*'] }],
    ['repository:a:delete', { type: 'repository', name: 'a', actions: ['delete'] }],
    ['repository:a_b/c-d/e.f/g__h:pull', { type: 'repository', name: 'a_b/c-d/e.f/g__h', actions: ['pull'] }],
    ['repository:a--b:pull', { type: 'repository', name: 'a--b', actions: ['pull'] }],
  ];
  for (const [input, expected] of cases) {
    test(input, () => {
      assert.deepEqual(parseScope(input), expected);
    });
  }

  test('no class key at all when there is no class', () => {
    assert.equal(Object.hasOwn(parseScope('repository:a:pull'), 'class'), false);
  });
});

describe('parseScope: invalid scopes', () => {
  const cases: [string, string, RegExp][] = [
    ['empty string', '', /expected type:name:actions/],
    ['one part', 'repository', /expected type:name:actions/],
    ['two parts', 'repository:pull', /expected type:name:actions/],
    ['empty type', ':a:pull', /expected type:name:actions/],
    ['empty name', 'registry::pull', /empty resource name/],
    ['empty name with a class', 'repository(plugin)::pull', /empty resource name/],
    ['uppercase single component', 'repository:TEAM:pull', /bad repository name/],
    ['uppercase path component', 'repository:team/App:pull', /bad repository name/],
    ['uppercase last components', 'repository:Team/App:pull', /bad repository name/],
    ['leading slash', 'repository:/a:pull', /bad repository name/],
    ['trailing slash', 'repository:a/:pull', /bad repository name/],
    ['double slash', 'repository:a//b:pull', /bad repository name/],
    ['leading separator in component', 'repository:-a:pull', /bad repository name/],
    ['trailing separator in component', 'repository:a-:pull', /bad repository name/],
    ['triple underscore', 'repository:a___b:pull', /bad repository name/],
    ['space in name', 'repository:a%20b:pull', /bad repository name/],
    ['unicode in name', 'repository:é:pull', /bad repository name/],
    ['uppercase type', 'Repository:a:pull', /bad resource type/],
    ['bad class', 'repository(Plugin):a:pull', /bad resource type/],
    ['unclosed class', 'repository(plugin:a:pull', /bad resource type/],
    ['uppercase action', 'repository:a:PULL', /bad action/],
    ['empty action in list', 'repository:a:pull,,push', /bad action/],
    ['trailing comma', 'repository:a:pull,', /bad action/],
    ['action with a dot', 'repository:a:pu.ll', /bad action/],
    ['name with host:port and no actions part', 'repository:localhost:5000/a', /bad action/],
    ['registry name with a space-like char', 'registry:cat\talog:*', /bad registry name/],
    ['too long', `repository:${'a'.repeat(600)}:pull`, /longer than 512/],
    ['name longer than 255', `repository:${'a/'.repeat(127)}ab:pull`, /longer than 255/],
  ];
  for (const [why, input, re] of cases) {
    test(`${why}: ${JSON.stringify(input.slice(0, 40))}`, () => {
      assert.throws(() => parseScope(input), purserError('INVALID_SCOPE', re));
    });
  }

  test('the error status is 400 and a long scope is abbreviated in the message', () => {
    try {
      parseScope(`repository:${'A'.repeat(400)}:pull`);
      assert.fail('should throw');
    } catch (e) {
      assert.ok(isPurserError(e));
      assert.equal(e.status, 400);
      assert.ok(e.message.length < 200, e.message);
      assert.ok(e.message.includes('…'));
    }
  });
});

describe('parseScopes', () => {
  test('no values and empty values give no scopes', () => {
    assert.deepEqual(parseScopes([]), []);
    assert.deepEqual(parseScopes(['']), []);
    assert.deepEqual(parseScopes(['  ', '']), []);
  });

  test('space separated values (containerd style)', () => {
    assert.deepEqual(parseScopes(['repository:a:pull repository:b:push registry:catalog:*']), [
      { type: 'repository', name: 'a', actions: ['pull'] },
      { type: 'repository', name: 'b', actions: ['push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  test('extra spaces between scopes are ignored', () => {
    assert.deepEqual(parseScopes([' repository:a:pull   repository:b:pull ']).map(formatScope), [
      'repository:a:pull',
      'repository:b:pull',
    ]);
  });

  test('repeated values (skopeo style) keep order', () => {
    assert.deepEqual(
      parseScopes(['repository:team/other:pull,push', 'repository:team/app:pull']).map(formatScope),
      ['repository:team/other:pull,push', 'repository:team/app:pull'],
    );
  });

  test('duplicates across values are merged into one scope', () => {
    assert.deepEqual(parseScopes(['repository:a:pull', 'repository:a:push']), [
      { type: 'repository', name: 'a', actions: ['pull', 'push'] },
    ]);
  });

  test('duplicates within one space-separated value are merged', () => {
    assert.deepEqual(parseScopes(['repository:a:pull repository:a:push repository:a:pull']), [
      { type: 'repository', name: 'a', actions: ['pull', 'push'] },
    ]);
  });

  test('the same scope repeated (retry after insufficient_scope) is one scope', () => {
    assert.deepEqual(parseScopes(['repository:a:pull', 'repository:a:pull']), [
      { type: 'repository', name: 'a', actions: ['pull'] },
    ]);
  });

  test('scopes differing only in class or type are not merged', () => {
    const s = parseScopes(['repository:a:pull', 'repository(plugin):a:push', 'registry:a:pull']);
    assert.equal(s.length, 3);
    assert.deepEqual(s.map(formatScope), [
      'repository:a:pull',
      'repository(plugin):a:push',
      'registry:a:pull',
    ]);
  });

  test('one bad scope among good ones fails the whole request', () => {
    assert.throws(
      () => parseScopes(['repository:a:pull', 'repository:B:pull']),
      purserError('INVALID_SCOPE'),
    );
  });

  test(`${MAX_SCOPES} distinct scopes are fine, ${MAX_SCOPES + 1} are refused`, () => {
    const many = Array.from({ length: MAX_SCOPES + 1 }, (_, i) => `repository:r${i}:pull`);
    assert.equal(parseScopes(many.slice(0, MAX_SCOPES)).length, MAX_SCOPES);
    assert.throws(() => parseScopes(many), purserError('INVALID_SCOPE', /more than 64/));
    assert.throws(() => parseScopes([many.join(' ')]), purserError('INVALID_SCOPE', /more than 64/));
  });

  test('many duplicates of the same scope do not count against the limit', () => {
    const dup = Array.from({ length: 200 }, () => 'repository:a:pull');
    assert.equal(parseScopes(dup).length, 1);
  });

  test('a tab is not a separator', () => {
    assert.throws(() => parseScopes(['repository:a:pull\trepository:b:pull']), purserError('INVALID_SCOPE'));
  });
});

describe('formatScope', () => {
  test('formats type, class, name, actions', () => {
    assert.equal(
      formatScope({ type: 'repository', class: 'plugin', name: 'x/y', actions: ['pull', 'push'] }),
      'repository(plugin):x/y:pull,push',
    );
    assert.equal(formatScope({ type: 'registry', name: 'catalog', actions: ['*'] }), 'registry:catalog:*');
    assert.equal(formatScope({ type: 'repository', name: 'a', actions: [] }), 'repository:a:');
  });
});

describe('properties', () => {
  test('parseScopes throws nothing but PurserError INVALID_SCOPE on any input', () => {
    const piece = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.constantFrom(
        ':',
        ',',
        ' ',
        '/',
        '*',
        '(',
        ')',
        'repository',
        'registry',
        'pull',
        'push',
        '\u0000',
        '🐳',
        'localhost:5000',
      ),
      fc.string({ unit: 'binary', maxLength: 10 }),
    );
    const value = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.array(value, { maxLength: 5 }), (values) => {
        try {
          const scopes = parseScopes(values);
          for (const s of scopes) {
            assert.equal(typeof s.type, 'string');
            assert.ok(s.name.length > 0);
            for (const a of s.actions) assert.ok(['pull', 'push', 'delete', '*'].includes(a), a);
          }
        } catch (e) {
          if (!isPurserError(e) || e.code !== 'INVALID_SCOPE') throw e;
        }
      }),
      { numRuns: 300, seed: 42 },
    );
  });

  const lower = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');
  const alnum = fc.string({ unit: fc.constantFrom(...lower), minLength: 1, maxLength: 6 });
  const component = fc
    .tuple(alnum, fc.array(fc.tuple(fc.constantFrom('.', '_', '__', '-', '--'), alnum), { maxLength: 2 }))
    .map(([h, rest]) => h + rest.map(([s, c]) => s + c).join(''));
  const host = fc.tuple(
    fc.constantFrom('localhost', 'registry.example.com', 'r1', 'my-host.local'),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  );
  const repoName = fc
    .tuple(fc.option(host, { nil: undefined }), fc.array(component, { minLength: 1, maxLength: 4 }))
    .map(([h, comps]) => (h ? `${h[0]}${h[1] === undefined ? '' : `:${h[1]}`}/` : '') + comps.join('/'));
  const actions = fc.uniqueArray(fc.constantFrom('pull', 'push', 'delete', '*'), { maxLength: 4 });
  const validScope = fc.oneof(
    fc.record({ type: fc.constant('repository'), name: repoName, actions }),
    fc.record({
      type: fc.constant('repository'),
      cls: fc.constantFrom('plugin', 'x1'),
      name: repoName,
      actions,
    }),
    fc.record({ type: fc.constant('registry'), name: fc.constantFrom('catalog', 'a.b-c/d:e'), actions }),
  );

  test('formatScope(parseScope(s)) round-trips for valid scopes', () => {
    fc.assert(
      fc.property(validScope, (r) => {
        const cls = 'cls' in r ? r.cls : undefined;
        const raw = `${r.type}${cls ? `(${cls})` : ''}:${r.name}:${r.actions.join(',')}`;
        const parsed = parseScope(raw);
        assert.equal(parsed.type, r.type);
        assert.equal(parsed.class, cls);
        assert.equal(parsed.name, r.name);
        assert.deepEqual(parsed.actions, r.actions);
        assert.equal(formatScope(parsed), raw);
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  test('parseScopes over a joined list equals parsing one by one (no duplicates)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(repoName, { minLength: 1, maxLength: 10 }), actions, (names, acts) => {
        const raws = names.map((n) => `repository:${n}:${acts.join(',')}`);
        assert.deepEqual(parseScopes([raws.join(' ')]), raws.map(parseScope));
        assert.deepEqual(parseScopes(raws), raws.map(parseScope));
      }),
      { numRuns: 150, seed: 3 },
    );
  });
});

// parseScope skips TYPE_RE for `repository` and `registry` and ACTION_RE for known actions,
// and parseScopes the merge for a lone scope: each must decide every input as before.
describe('parseScope and parseScopes: the fast paths decide as the general ones', () => {
  const KNOWN = new Set(['pull', 'push', 'delete', '*']);
  const reference = (raw: string): Scope | string => {
    const first = raw.indexOf(':');
    const last = raw.lastIndexOf(':');
    if (raw.length > 512 || first <= 0 || last === first) return 'invalid';
    const t = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/.exec(raw.slice(0, first));
    if (!t) return 'invalid';
    const actions: string[] = [];
    const part = raw.slice(last + 1);
    for (const a of part.length > 0 ? part.split(',') : []) {
      if (!/^(?:\*|[a-z][a-z0-9_-]*)$/.test(a)) return 'invalid';
      if (KNOWN.has(a) && !actions.includes(a)) actions.push(a);
    }
    // The name rules are shared, unchanged: taken from the parser itself.
    const name = raw.slice(first + 1, last);
    try {
      parseScope(`${t[1]}${t[2] ? `(${t[2]})` : ''}:${name}:`);
    } catch {
      return 'invalid';
    }
    const s: Scope = { type: t[1]!, name, actions };
    if (t[2] !== undefined) s.class = t[2];
    return s;
  };
  const outcome = (f: () => unknown) => {
    try {
      return f();
    } catch (e) {
      assert.ok(isPurserError(e));
      return 'invalid';
    }
  };
  const piece = fc.constantFrom(
    'repository',
    'registry',
    'repository(plugin)',
    'Repository',
    'reg istry',
    '',
  );
  const name = fc.constantFrom('team/app', 'a', '', 'Bad', 'localhost:5000/x', 'catalog');
  const action = fc.constantFrom('pull', 'push', 'delete', '*', 'frob', 'Pull', '', 'p-1', '**');
  const raw = fc.oneof(
    fc.tuple(piece, name, fc.array(action, { maxLength: 4 })).map(([t, n, a]) => `${t}:${n}:${a.join(',')}`),
    fc.string({ unit: fc.constantFrom(...'repositygl:/,*( )pushal'), maxLength: 30 }),
  );
  test('parseScope', () => {
    fc.assert(
      fc.property(raw, (r) => {
        assert.deepEqual(
          outcome(() => parseScope(r)),
          reference(r),
        );
      }),
      { numRuns: 3000 },
    );
  });
  test('parseScopes of one value is parseScope of each space-separated scope, merged', () => {
    fc.assert(
      fc.property(raw, (r) => {
        const general = outcome(() => {
          const out: Scope[] = [];
          for (const p of r.split(' ')) {
            if (p === '') continue;
            const s = parseScope(p);
            const same = out.find((o) => o.type === s.type && o.class === s.class && o.name === s.name);
            if (!same) {
              out.push(s);
              continue;
            }
            for (const a of s.actions) if (!same.actions.includes(a)) same.actions.push(a);
          }
          return out;
        });
        assert.deepEqual(
          outcome(() => parseScopes([r])),
          general,
        );
      }),
      { numRuns: 3000 },
    );
  });
});
