import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compilePattern } from '../../../src/authz/pattern.js';
import { checkPlaceholder, resolvePlaceholder } from '../../../src/authz/placeholders.js';
import type { Identity } from '../../../src/core/identity.js';

const id = (
  account: string,
  claims: Record<string, unknown> = {},
  labels: Record<string, string> = {},
  provider = 'static',
): Identity => ({
  account,
  provider,
  labels,
  claims,
});
const nobody = id('x');

function table(source: string, yes: string[], no: string[], who: Identity = nobody) {
  test(`${source}`, () => {
    const p = compilePattern(source);
    for (const v of yes) assert.equal(p.test(v, who), true, `${source} should match ${JSON.stringify(v)}`);
    for (const v of no)
      assert.equal(p.test(v, who), false, `${source} should not match ${JSON.stringify(v)}`);
  });
}

describe('globs', () => {
  table('team/app', ['team/app'], ['team/app2', 'xteam/app', 'team/ap', 'team', 'team/app/x']);
  table('team/*', ['team/app', 'team/', 'team/a.b-c'], ['team/app/x', 'team', 'other/app']);
  table('*', ['app', ''], ['team/app']);
  table('team/**', ['team/app', 'team/a/b/c'], ['team', 'teamx/a', 'other/team/a']);
  table('**', ['', 'a', 'a/b/c'], []);
  table(
    'team/**/app',
    ['team/app', 'team/x/app', 'team/x/y/app'],
    ['team/xapp', 'team/x/app2', 'team/app/x'],
  );
  table('**/app', ['app', 'a/app', 'a/b/app'], ['xapp', 'a/app/b']);
  table('team/?pp', ['team/app', 'team/bpp'], ['team/pp', 'team//pp', 'team/aapp']);
  table('a.b', ['a.b'], ['axb']);
  table('a+b(c)[d]{1}|e^$', ['a+b(c)[d]{1}|e^$'], ['aab(c)[d]{1}|e^$', 'ab']);
  table('', [''], ['a']);
  table('localhost:5000/*', ['localhost:5000/app'], ['localhost:5000/a/b']);
  table('team-*/app', ['team-a/app', 'team-/app'], ['team/app']);
});

describe('regular expressions', () => {
  table('/team-[0-9]+/', ['team-1', 'team-42'], ['team-', 'xteam-1', 'team-1x', 'team-1/app']);
  table('/a|b/', ['a', 'b'], ['ab', 'xa', 'bx']);
  table('/(pull|push)/', ['pull', 'push'], ['pullpush']);
  table('/.*/', ['', 'anything/at/all'], []);
  table('/', ['/'], ['', 'a']);

  test('an invalid regular expression is refused with its source', () => {
    assert.throws(() => compilePattern('/team-(/'), /invalid regular expression \/team-\(\//);
    assert.throws(() => compilePattern('/[z-a]/'), /invalid regular expression/);
  });

  test('syntax RE2 does not have (backreferences, lookaround, \\u escapes) is refused', () => {
    for (const src of ['/(a)\\1/', '/(?=a)a/', '/(?!a)b/', '/\\u{61}/', '/a(?<=a)/'])
      assert.throws(() => compilePattern(src), /invalid regular expression .* \(RE2 syntax\)/, src);
  });

  test('an invalid regex with a placeholder is refused at compile time', () => {
    assert.throws(() => compilePattern('/${account}(/'), /invalid regular expression/);
  });
});

describe('placeholders', () => {
  table('${account}/*', ['alice/app'], ['bob/app', 'alice/a/b', 'alice'], id('alice'));
  table('users/${account}', ['users/alice'], ['users/bob'], id('alice'));
  table('${provider}/**', ['github/a/b'], ['static/a'], id('x', {}, {}, 'github'));
  table('${claims.repository}', ['acme/app'], ['acme/other', 'acme'], id('x', { repository: 'acme/app' }));
  table(
    '${claims.repository}/**',
    ['acme/app/x', 'acme/app/x/y'],
    ['acme/app', 'acme/other/x'],
    id('x', { repository: 'acme/app' }),
  );
  table(
    'k8s/${claims.kubernetes.io.namespace}/*',
    ['k8s/prod/api'],
    ['k8s/dev/api'],
    id('x', { 'kubernetes.io': { namespace: 'prod' } }),
  );
  table('k8s/${claims.a.b.c}', ['k8s/deep'], ['k8s/x'], id('x', { a: { b: { c: 'deep' } } }));
  table('${labels.team}/*', ['blue/app'], ['red/app'], id('x', {}, { team: 'blue' }));
  table('/${account}-(dev|prod)/', ['alice-dev', 'alice-prod'], ['alice-test', 'bob-dev'], id('alice'));
  table('n/${claims.num}', ['n/42'], ['n/4'], id('x', { num: 42 }));
  table('b/${claims.flag}', ['b/true'], ['b/false'], id('x', { flag: true }));

  test('a missing claim (or missing nested claim) makes the pattern not match, even a wildcard one', () => {
    const p = compilePattern('${claims.repository}**');
    assert.equal(p.test('anything', id('x')), false);
    assert.equal(p.test('', id('x')), false);
    const q = compilePattern('${claims.kubernetes.io.namespace}/*');
    assert.equal(q.test('prod/x', id('x', { 'kubernetes.io': {} })), false);
    assert.equal(q.test('prod/x', id('x', { kubernetes: { io: {} } })), false);
  });

  test('an empty account never substitutes as empty (anonymous does not match ${account}/*)', () => {
    const p = compilePattern('${account}/*');
    assert.equal(p.test('/app', id('')), false);
  });

  test('non-scalar claims (object, array, null) do not substitute', () => {
    const p = compilePattern('r/${claims.v}');
    for (const v of [{ a: 1 }, ['a'], null, Number.NaN])
      assert.equal(p.test('r/a', id('x', { v })), false, JSON.stringify(v));
  });

  test('claims named like Object.prototype members do not resolve', () => {
    assert.equal(resolvePlaceholder('claims.constructor', id('x')), undefined);
    assert.equal(resolvePlaceholder('claims.__proto__', id('x')), undefined);
    assert.equal(resolvePlaceholder('claims.toString', id('x')), undefined);
    assert.equal(resolvePlaceholder('labels.constructor', id('x')), undefined);
  });

  test('a dotted claim key and a nested path both resolve; the longest key wins first', () => {
    assert.equal(
      resolvePlaceholder('claims.kubernetes.io.namespace', id('x', { 'kubernetes.io': { namespace: 'ns' } })),
      'ns',
    );
    assert.equal(
      resolvePlaceholder(
        'claims.kubernetes.io.namespace',
        id('x', { kubernetes: { io: { namespace: 'nested' } } }),
      ),
      'nested',
    );
    assert.equal(resolvePlaceholder('claims.a.b', id('x', { 'a.b': 'flat', a: { b: 'nested' } })), 'flat');
  });

  const literal: [string, string, string, string[]][] = [
    // [pattern, claim value, value that must match, values that must not]
    ['${claims.repository}', 'acme/*', 'acme/*', ['acme/app', 'acme/']],
    ['${claims.repository}', 'acme/**', 'acme/**', ['acme/a/b']],
    ['${claims.repository}', '.*', '.*', ['anything', 'ab']],
    ['${claims.repository}', 'a?c', 'a?c', ['abc']],
    ['/${claims.repository}/', '.*', '.*', ['anything']],
    ['/${claims.repository}/', 'a|b', 'a|b', ['a', 'b']],
    ['/repo-${claims.repository}/', '(x)+', 'repo-(x)+', ['repo-xx']],
    ['/${claims.repository}/', 'a\\d', 'a\\d', ['a1']],
    ['${claims.ns}/*', 'team/x', 'team/x/app', ['team/app', 'team/y/app']],
    ['${claims.repository}', '${account}', '${account}', ['alice']],
  ];
  for (const [src, claim, ok, nos] of literal) {
    test(`claim ${JSON.stringify(claim)} in ${src} is matched literally`, () => {
      const who = id('alice', { repository: claim, ns: claim });
      const p = compilePattern(src);
      assert.equal(p.test(ok, who), true);
      for (const v of nos) assert.equal(p.test(v, who), false, v);
    });
  }

  // Regression (claim "a-z" in /[${claims.c}]+/ matched "m"; fixed in 2ee9ea3).
  test('a claim inside a regex character class cannot widen it', () => {
    const p = compilePattern('/[${claims.c}]+/');
    assert.equal(p.test('m', id('x', { c: 'a-z' })), false);
    assert.equal(p.test('a-z', id('x', { c: 'a-z' })), true);
    assert.equal(p.test('x', id('x', { c: '^ab' })), false);
    assert.equal(p.test('b', id('x', { c: '^ab' })), true);
    const q = compilePattern('/[^${claims.c}]/');
    assert.equal(q.test('-', id('x', { c: 'a-z' })), false);
    assert.equal(q.test('m', id('x', { c: 'a-z' })), true);
  });

  test('property: a claim value never matches anything but itself', () => {
    const p = compilePattern('${claims.v}');
    const r = compilePattern('/${claims.v}/');
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.string({ maxLength: 20 }),
        (claim, other) => {
          const who = id('x', { v: claim });
          assert.equal(p.test(claim, who), true);
          assert.equal(r.test(claim, who), true);
          assert.equal(p.test(other, who), other === claim);
          assert.equal(r.test(other, who), other === claim);
        },
      ),
      { numRuns: 500, seed: 5 },
    );
  });

  test('property: a glob with placeholders and at most one wildcard (string operations) means what its RE2 translation means', () => {
    // The reference: the same glob written as a /regex/ (the RE2 path), translated here
    // independently of the code under test.
    const reText = (literal: string) =>
      literal
        .split(/(\*\*\/|\*\*|\*)/)
        .map((t) =>
          t === '**/'
            ? '(?:.*/)?'
            : t === '**'
              ? '.*'
              : t === '*'
                ? '[^/]*'
                : t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'),
        )
        .join('');
    const chars = fc.constantFrom('a', 'b', '/', '.', '-', '\n', 'é', '*', '?', '[', '\\', '$');
    const text = (max: number) => fc.array(chars, { maxLength: max }).map((a) => a.join(''));
    const literal = fc
      .array(fc.constantFrom('a', 'b', '/', '.', '-'), { maxLength: 4 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(
        literal,
        fc.constantFrom('', '*', '**', '**/'),
        literal,
        fc.constantFrom('before', 'after', 'both'),
        text(6),
        text(6),
        text(14),
        (pre, wildcard, suf, where, account, claim, value) => {
          // Led by `r`: a glob that starts and ends with `/` would be a regex.
          const glob =
            where === 'before'
              ? `r${pre}\${account}${wildcard}${suf}`
              : where === 'after'
                ? `r${pre}${wildcard}${suf}\${claims.c}`
                : `r\${account}${pre}${wildcard}${suf}\${claims.c}`;
          const regex =
            where === 'before'
              ? `/r${reText(pre)}\${account}${reText(wildcard + suf)}/`
              : where === 'after'
                ? `/r${reText(pre + wildcard + suf)}\${claims.c}/`
                : `/r\${account}${reText(pre + wildcard + suf)}\${claims.c}/`;
          const who = id(account, { c: claim });
          const g = compilePattern(glob);
          const r = compilePattern(regex);
          assert.equal(
            g.test(value, who),
            r.test(value, who),
            `${JSON.stringify(glob)} ${JSON.stringify(value)}`,
          );
          // And the value built to match, when the placeholders have values.
          const middle = wildcard === '' ? '' : wildcard === '*' ? 'x' : 'x/y/';
          const built =
            where === 'before'
              ? `r${pre}${account}${middle}${suf}`
              : where === 'after'
                ? `r${pre}${middle}${suf}${claim}`
                : `r${account}${pre}${middle}${suf}${claim}`;
          // It, and its neighbours one character longer or shorter.
          for (const v of [built, `${built}z`, `${built}/`, built.slice(0, -1)])
            assert.equal(g.test(v, who), r.test(v, who), `${JSON.stringify(glob)} ${JSON.stringify(v)}`);
        },
      ),
      { numRuns: 3000, seed: 11 },
    );
  });

  test('unknown placeholders are refused when compiling', () => {
    assert.throws(() => compilePattern('${user}/*'), /unknown placeholder \$\{user\}/);
    assert.throws(() => compilePattern('${claims}'), /unknown placeholder/);
    assert.throws(() => compilePattern('${claims.}'), /unknown placeholder/);
    assert.throws(() => compilePattern('/${Account}/'), /unknown placeholder/);
  });

  test('checkPlaceholder', () => {
    assert.equal(checkPlaceholder('account'), undefined);
    assert.equal(checkPlaceholder('provider'), undefined);
    assert.equal(checkPlaceholder('claims.kubernetes.io.namespace'), undefined);
    assert.equal(checkPlaceholder('labels.team'), undefined);
    assert.match(checkPlaceholder('env')!, /unknown placeholder/);
  });

  test('many distinct identities do not break matching (regex cache churn)', () => {
    const p = compilePattern('${account}/*');
    for (let i = 0; i < 2500; i++) assert.equal(p.test(`u${i}/app`, id(`u${i}`)), true);
    assert.equal(p.test('u1/app', id('u2')), false);
  });
});
