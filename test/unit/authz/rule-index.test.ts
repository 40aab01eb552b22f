import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Acl, compileRules } from '../../../src/authz/acl.js';
import { compilePattern } from '../../../src/authz/pattern.js';
import type { RuleData } from '../../../src/config/schema.js';
import type { Identity } from '../../../src/core/identity.js';
import { compileRe2 } from '../../../src/util/re2.js';

type Rule = RuleData & { when?: string };

// Small alphabets, so random patterns and requests meet often.
const seg = fc.constantFrom('a', 'b', 'ab', 'team', 'team-1', 'x.y', '');
const literal = fc.array(seg, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const wildcard = fc.constantFrom('*', '**', '**/', '?', '');
const glob = fc
  .tuple(literal, wildcard, fc.constantFrom('', 'a', '/b', 'app', '/**'))
  .map(([a, w, b]) => `${a}${w}${b}`);
const pattern = fc.oneof(
  { weight: 4, arbitrary: glob },
  { weight: 3, arbitrary: literal },
  { weight: 1, arbitrary: fc.constantFrom('/a.*/', '/team-[0-9]/', '${account}', 'team/${account}', '*') },
);
const patterns = fc.oneof(pattern, fc.array(pattern, { minLength: 1, maxLength: 3 }));
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
const accountPattern = fc.oneof(patterns, fc.constant(''), fc.constant(['', 'a']));
const rule: fc.Arbitrary<Rule> = fc
  .record({
    account: optional(accountPattern),
    provider: optional(fc.constantFrom('static', 'github', ['static', 'github'], 'g*')),
    type: optional(fc.constantFrom('repository', 'registry', 'repo*')),
    name: optional(patterns),
    actions: fc.subarray(['pull', 'push', 'delete', '*'], { minLength: 1 }),
  })
  .map(({ actions, ...m }) => {
    const match = Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined));
    return { match, actions } as unknown as Rule;
  });
const request = fc.record({
  account: fc.constantFrom('', 'a', 'b', 'team', 'ab'),
  provider: fc.constantFrom('static', 'github', 'gitlab'),
  type: fc.constantFrom('repository', 'registry'),
  name: fc.oneof(literal, fc.constantFrom('team/a', 'team-1/app', 'a/b/app', 'team/app', 'a\nb', '')),
});

describe('the ACL rule index', () => {
  test('decides exactly as a scan in rule order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(rule, { minLength: 1, maxLength: 40 }),
        fc.array(request, { maxLength: 20 }),
        (rules, reqs) => {
          let compiled: ReturnType<typeof compileRules>;
          try {
            compiled = compileRules(rules, 'acl.yml');
          } catch {
            // A random `/…/` that is not a valid regular expression: refused at load time.
            return fc.pre(false);
          }
          const indexed = new Acl(compiled);
          const linear = new Acl(compiled, { indexed: false });
          for (const r of reqs) {
            const identity: Identity = { account: r.account, provider: r.provider, labels: {}, claims: {} };
            const scope = { type: r.type, name: r.name, actions: ['pull', 'push'] };
            const req = { identity, service: 'registry.test', scopes: [scope], ip: '127.0.0.1' };
            assert.deepEqual(
              indexed.decide(scope, req),
              linear.decide(scope, req),
              JSON.stringify({ rules, r }),
            );
          }
        },
      ),
      { numRuns: 2000, seed: 11 },
    );
  });

  test('a rule with two name prefixes, one starting the other, is visited once', () => {
    const compiled = compileRules(
      [{ match: { name: ['te*', 'team/**'] }, actions: ['pull'] } as Rule],
      'acl.yml',
    );
    let visits = 0;
    const acl = new Acl(compiled);
    const when = {
      source: 'count',
      evaluate: () => {
        visits++;
        return false;
      },
    };
    compiled[0]!.when = when;
    const identity: Identity = { account: 'a', provider: 'static', labels: {}, claims: {} };
    const scope = { type: 'repository', name: 'team/app', actions: ['pull'] };
    acl.decide(scope, { identity, service: 's', scopes: [scope], ip: '127.0.0.1' });
    assert.equal(visits, 1);
  });

  test('the deciding rule last among 10,000 indexed team rules is found', () => {
    const rules: Rule[] = [];
    for (let i = 0; i < 10_000; i++)
      rules.push({ match: { account: `bot-${i}`, name: `team-${i}/**` }, actions: ['pull', 'push'] } as Rule);
    rules.push({ match: { account: '', name: 'public/**' }, actions: ['pull'] } as Rule);
    const acl = new Acl(compileRules(rules, 'acl.yml'));
    const scope = { type: 'repository', name: 'public/app', actions: ['pull'] };
    const anon: Identity = { account: '', provider: '', labels: {}, claims: {} };
    const d = acl.decide(scope, { identity: anon, service: 's', scopes: [scope], ip: '127.0.0.1' });
    assert.equal(d.rule, 10_000);
    assert.deepEqual(d.granted, ['pull']);
  });
});

/** The RE2 translation of a glob, as pattern.ts did it for every glob before its fast path. */
function globRegex(glob: string): string {
  const esc = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*' && glob[i + 2] === '/') {
      out += '(?:.*/)?';
      i += 2;
    } else if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i += 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += esc(c);
  }
  return `^(?:${out})$`;
}

describe('globs matched without a regex', () => {
  const nobody: Identity = { account: 'x', provider: 'static', labels: {}, claims: {} };
  const chars = fc.constantFrom('a', 'b', '/', '\n', '\r', '-', '.', 'é', '\u{1F600}', '\uD800');
  const value = fc.array(chars, { maxLength: 8 }).map((c) => c.join(''));
  const part = fc
    .array(fc.constantFrom('a', 'b', '/', '-', '.', 'é'), { maxLength: 3 })
    .map((c) => c.join(''));
  const oneWildcard = fc
    .tuple(part, fc.constantFrom('*', '**', '**/'), part)
    .map(([a, w, b]) => `${a}${w}${b}`)
    // `/…/` is a regular expression, not a glob.
    .filter((g) => !(g.length >= 2 && g.startsWith('/') && g.endsWith('/')));

  test('match exactly what the RE2 translation matches (property)', () => {
    fc.assert(
      fc.property(oneWildcard, fc.array(value, { maxLength: 10 }), (g, values) => {
        const p = compilePattern(g);
        const re = compileRe2(globRegex(g));
        for (const v of values)
          assert.equal(p.test(v, nobody), re.test(v), `${JSON.stringify(g)} on ${JSON.stringify(v)}`);
        // The index's key: every value the glob matches starts with it.
        for (const v of values) if (p.test(v, nobody)) assert.ok(v.startsWith(p.prefix));
      }),
      { numRuns: 3000, seed: 7 },
    );
  });

  test('name the literal text before the first wildcard or placeholder as their prefix', () => {
    assert.equal(compilePattern('team/**').prefix, 'team/');
    assert.equal(compilePattern('team/${account}/*').prefix, 'team/');
    assert.equal(compilePattern('team/?/x*').prefix, 'team/');
    assert.equal(compilePattern('/team.*/').prefix, '');
    assert.equal(compilePattern('${account}/x').prefix, '');
    assert.equal(compilePattern('team/app').exact, 'team/app');
    assert.equal(compilePattern('team/*').exact, undefined);
  });
});
