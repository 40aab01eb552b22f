// Issue 8 hole 5: every regex Purser evaluates on request data (CEL matches(), ACL /regex/
// and glob patterns, with or without placeholders) runs in time linear in the input, so a
// hostile claim or repository name cannot block the event loop.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Acl, compileRules } from '../../../src/authz/acl.js';
import type { RuleData } from '../../../src/config/schema.js';
import type { Identity } from '../../../src/core/identity.js';
import { compileCel, toCelValue } from '../../../src/expr/cel.js';
import { parseScope } from '../../../src/protocol/scope.js';

/** Best of a few runs (a shared CI core may stall one), in milliseconds. */
function bestOf<T>(runs: number, f: () => T): { ms: number; value: T } {
  let ms = Number.POSITIVE_INFINITY;
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    value = f();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, value };
}

const BOUND_MS = 10;

// Classic catastrophic patterns, each with an input that makes a backtracking engine take
// exponential (or high-polynomial) time, and whether it matches (a partial match for CEL).
const HOSTILE: { pattern: string; input: string; matches: boolean }[] = [
  { pattern: '^refs/heads/([a-z0-9]+[-/]?)+$', input: `refs/heads/${'a'.repeat(29)}!`, matches: false },
  { pattern: '^(a+)+$', input: `${'a'.repeat(40)}!`, matches: false },
  { pattern: '^(a|aa)+$', input: `${'a'.repeat(40)}!`, matches: false },
  { pattern: '^(a|a?)+$', input: `${'a'.repeat(40)}!`, matches: false },
  { pattern: '^(\\w+\\s?)*$', input: `${'a'.repeat(40)}!`, matches: false },
  { pattern: '^(.*a){12}$', input: 'a'.repeat(40).padEnd(41, 'b'), matches: false },
  { pattern: '^([a-z0-9]+[-.]?)+[a-z0-9]$', input: `${'a'.repeat(40)}-`, matches: false },
];

describe('CEL matches() is RE2, linear in the claim', () => {
  for (const h of HOSTILE) {
    test(`a ${h.input.length}-character hostile claim against ${h.pattern} evaluates in under ${BOUND_MS} ms`, () => {
      const p = compileCel(`claims.ref.matches(${JSON.stringify(h.pattern)})`, ['claims'], 'bool');
      const claims = toCelValue({ ref: h.input });
      const { ms, value } = bestOf(3, () => p.run({ claims }));
      assert.equal(value, h.matches);
      assert.ok(ms < BOUND_MS, `${ms.toFixed(1)} ms`);
    });
  }

  test('a 64 KiB claim against a hostile pattern stays linear (under 200 ms)', () => {
    const p = compileCel('claims.ref.matches("^(a|aa)+$")', ['claims'], 'bool');
    const claims = toCelValue({ ref: `${'a'.repeat(65536)}!` });
    const { ms, value } = bestOf(2, () => p.run({ claims }));
    assert.equal(value, false);
    assert.ok(ms < 200, `${ms.toFixed(1)} ms`);
  });

  test('a pattern taken from a claim is RE2 as well', () => {
    const p = compileCel('claims.ref.matches(claims.re)', ['claims'], 'bool');
    const claims = toCelValue({ ref: `${'a'.repeat(40)}!`, re: '^(a+)+$' });
    const { ms, value } = bestOf(3, () => p.run({ claims }));
    assert.equal(value, false);
    assert.ok(ms < BOUND_MS, `${ms.toFixed(1)} ms`);
  });

  // Only RE2 knows `(?i)` flags at the start: these hold only if RE2 evaluates the call.
  const ctx = { claims: toCelValue({ ref: 'refs/heads/main', refs: ['refs/heads/main'] }) };
  const re2Only: [string, boolean][] = [
    ['claims.ref.matches("(?i)^REFS/")', true],
    ['matches(claims.ref, "(?i)^REFS/")', true],
    ['claims.refs.exists(r, r.matches("(?i)MAIN$"))', true],
    ['claims.refs.all(r, r.matches("(?i)MAIN$"))', true],
    ['claims.refs.exists_one(r, r.matches("(?i)MAIN$"))', true],
    ['claims.refs.filter(r, r.matches("(?i)MAIN$")).size() == 1', true],
    ['claims.refs.map(r, r.matches("(?i)MAIN$"))[0]', true],
    ['claims.ref != "" ? claims.ref.matches("(?i)MAIN$") : false', true],
    ['[claims.ref].exists(r, [r].all(s, s.matches("(?i)^REFS")))', true],
    ['claims.ref.matches("(?i)^tags/")', false],
  ];
  for (const [src, want] of re2Only) {
    test(`RE2 evaluates ${src}`, () => {
      assert.equal(compileCel(src, ['claims'], 'bool').run(ctx), want);
    });
  }

  test('a literal pattern RE2 refuses fails at compile time; one from a claim fails without echoing it', () => {
    assert.throws(
      () => compileCel('claims.ref.matches("(a)\\\\1")', ['claims'], 'bool'),
      /matches\(\): .*invalid escape/,
    );
    assert.throws(() => compileCel('claims.ref.matches("(?=a)")', ['claims'], 'bool'), /matches\(\)/);
    const p = compileCel('claims.ref.matches(claims.re)', ['claims'], 'bool');
    assert.throws(
      () => p.run({ claims: toCelValue({ ref: 'a', re: '(?=secret-fragment)' }) }),
      (e: Error) => /not a valid RE2/.test(e.message) && !e.message.includes('secret-fragment'),
    );
  });
});

describe('ACL patterns are RE2, linear in the name', () => {
  type Rule = RuleData & { when?: string };
  const who = (claims: Record<string, unknown>): Identity => ({
    account: 'ci',
    provider: 'ci',
    labels: {},
    claims,
  });
  function timed(match: string, identity: Identity, name: string) {
    const acl = new Acl(compileRules([{ match: { name: match }, actions: ['pull'] } as Rule], 'acl.yml'));
    const scopes = [parseScope(`repository:${name}:pull`)];
    acl.authorize({ identity, service: 's', scopes, ip: '127.0.0.1' }); // compiles a placeholder's value
    return bestOf(3, () => acl.authorize({ identity, service: 's', scopes, ip: '127.0.0.1' })[0]!.granted);
  }

  // Repository names are lowercase, digits, separators; hostile inputs within that grammar.
  const cases: { match: string; claims?: Record<string, unknown>; name: string }[] = [
    { match: '/(a+)+b/', name: 'a'.repeat(40) },
    { match: '/(a|aa)+b/', name: 'a'.repeat(40) },
    { match: '/([a-z0-9]+[-/]?)+b/', name: 'a'.repeat(40) },
    { match: '/(.*a){12}b/', name: 'a'.repeat(40) },
    { match: '**a**a**a**a**a**a**a**a**b', name: 'a/'.repeat(40).slice(0, -1) },
    {
      match: '/${claims.org}/(a+)+b/',
      claims: { org: 'acme' },
      name: `acme/${'a'.repeat(40)}`,
    },
    {
      match: '/${claims.org}([a-z0-9]+[-/]?)+b/',
      claims: { org: 'refs' },
      name: `refs${'a'.repeat(40)}`,
    },
    { match: '${claims.org}/**a**a**a**a**a**a**b', claims: { org: 'acme' }, name: `acme/${'a'.repeat(40)}` },
  ];
  for (const c of cases) {
    test(`${c.match} decides a hostile ${c.name.length}-character name in under ${BOUND_MS} ms`, () => {
      const { ms, value } = timed(c.match, who(c.claims ?? {}), c.name);
      assert.deepEqual(value, []);
      assert.ok(ms < BOUND_MS, `${ms.toFixed(1)} ms`);
    });
  }

  test('a placeholder value is still matched literally under RE2 (punctuation, non-ASCII, classes)', () => {
    const rules = [
      { match: { name: '/p[${claims.c}]x/' }, actions: ['pull'] },
      { match: { name: '${claims.v}/*' }, actions: ['push'] },
    ] as Rule[];
    const acl = new Acl(compileRules(rules, 'acl.yml'));
    const decide = (claims: Record<string, unknown>, name: string) =>
      acl.authorize({
        identity: who(claims),
        service: 's',
        scopes: [parseScope(`repository:${name}:*`)],
        ip: '',
      })[0]!.granted;
    // `a-z` from a claim inside a class is three characters, not a range.
    assert.deepEqual(decide({ c: 'a-z' }, 'p-x'), ['pull']);
    assert.deepEqual(decide({ c: 'a-z' }, 'pbx'), []);
    assert.deepEqual(decide({ v: 'a.b' }, 'a.b/app'), ['push']);
    assert.deepEqual(decide({ v: 'a.b' }, 'axb/app'), []);
    assert.deepEqual(decide({ v: 'a_b-c' }, 'a_b-c/app'), ['push']);
  });
});

describe('regex size', () => {
  test('a pattern whose program is too big is refused: at load time in the ACL, at run time from a claim', () => {
    assert.throws(
      () =>
        compileRules(
          [
            {
              match: { name: '/.{1000}.{1000}.{1000}.{1000}.{1000}.{1000}/' },
              actions: ['pull'],
            } as RuleData,
          ],
          'acl.yml',
        ),
      /acl\[0\]\.match\.name: .*too large/,
    );
    const p = compileCel('claims.ref.matches(claims.re)', ['claims'], 'bool');
    assert.throws(
      () => p.run({ claims: toCelValue({ ref: 'a', re: '.{1000}.{1000}.{1000}.{1000}.{1000}.{1000}' }) }),
      /not a valid RE2/,
    );
    // A big but allowed program against a long claim stays bounded.
    const q = compileCel('claims.ref.matches("^.{1000}b")', ['claims'], 'bool');
    const { ms } = bestOf(2, () => q.run({ claims: toCelValue({ ref: 'a'.repeat(4096) }) }));
    assert.ok(ms < 500, `${ms.toFixed(1)} ms`);
  });
});
