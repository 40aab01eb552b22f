import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Acl, type ConditionInput, compileRules, grantActions } from '../../../src/authz/acl.js';
import type { RuleData } from '../../../src/config/schema.js';
import { ConfigError } from '../../../src/core/errors.js';
import { ANONYMOUS, type Identity } from '../../../src/core/identity.js';
import { parseScope } from '../../../src/protocol/scope.js';

type Rule = RuleData & { when?: string };
const rule = (match: RuleData['match'], actions: string[], extra: Partial<Rule> = {}): Rule =>
  ({ match, actions, ...extra }) as Rule;
const user = (account: string, claims: Record<string, unknown> = {}, provider = 'static'): Identity => ({
  account,
  provider,
  labels: {},
  claims,
});

function decide(rules: Rule[], identity: Identity, scope: string, service = 'registry.test') {
  const acl = new Acl(compileRules(rules, 'acl.yml'));
  const [d] = acl.authorize({ identity, service, scopes: [parseScope(scope)], ip: '127.0.0.1' });
  assert.ok(d);
  return d;
}

describe('grantActions (SPEC §3)', () => {
  const cases: [string[], string[], string[]][] = [
    [['pull'], ['pull', 'push'], ['pull']],
    [['pull', 'push'], ['pull'], ['pull']],
    [
      ['push', 'pull'],
      ['pull', 'push'],
      ['push', 'pull'],
    ],
    [['*'], ['pull', 'push'], ['pull', 'push']],
    [['*'], ['*'], ['*']],
    [['pull'], ['*'], ['pull']],
    [['pull', 'push', 'delete'], ['*'], ['pull', 'push', 'delete']],
    [
      ['pull', '*'],
      ['pull', 'push'],
      ['pull', 'push'],
    ],
    [['*', 'pull'], ['pull'], ['pull']],
    [['delete'], ['pull', 'push'], []],
    [['pull'], [], []],
    [['*'], [], []],
    [[], ['*'], []],
    [[], ['pull'], []],
  ];
  for (const [requested, allowed, want] of cases) {
    test(`requested ${JSON.stringify(requested)} + rule ${JSON.stringify(allowed)} -> ${JSON.stringify(want)}`, () => {
      assert.deepEqual(grantActions(requested, allowed), want);
    });
  }

  test('never grants an action that was not requested (except through *)', () => {
    const all = ['pull', 'push', 'delete', '*'];
    for (let m = 0; m < 16; m++) {
      for (let n = 0; n < 16; n++) {
        const req = all.filter((_, i) => m & (1 << i));
        const allowed = all.filter((_, i) => n & (1 << i));
        const got = grantActions(req, allowed);
        assert.equal(new Set(got).size, got.length, 'no duplicates');
        for (const a of got) {
          if (!req.includes('*')) assert.ok(req.includes(a), `${a} not requested in ${req}`);
          if (!allowed.includes('*')) assert.ok(allowed.includes(a), `${a} not allowed by ${allowed}`);
        }
      }
    }
  });
});

describe('Acl', () => {
  test('registry:catalog:* is granted as * by a * rule', () => {
    const d = decide(
      [rule({ account: 'admin', type: 'registry', name: 'catalog' }, ['*'])],
      user('admin'),
      'registry:catalog:*',
    );
    assert.deepEqual(d.granted, ['*']);
    assert.equal(d.rule, 0);
  });

  test('repository:*: with a pull,push rule gets pull,push', () => {
    assert.deepEqual(decide([rule({}, ['pull', 'push'])], user('a'), 'repository:x:*').granted, [
      'pull',
      'push',
    ]);
  });

  test('the first matching rule decides even if a later rule would grant more', () => {
    const rules = [rule({ name: 'team/*' }, ['pull']), rule({ account: 'alice' }, ['*'])];
    const d = decide(rules, user('alice'), 'repository:team/app:pull,push');
    assert.deepEqual(d.granted, ['pull']);
    assert.equal(d.rule, 0);
    assert.match(d.explanation, /acl\[0\]/);
    // A scope the first rule does not match falls through to the second.
    assert.deepEqual(decide(rules, user('alice'), 'repository:other/app:pull,push').granted, [
      'pull',
      'push',
    ]);
  });

  test('an empty actions rule denies and stops the search', () => {
    const rules = [rule({ name: 'secret/**' }, []), rule({}, ['*'])];
    const d = decide(rules, user('alice'), 'repository:secret/x:pull');
    assert.deepEqual(d.granted, []);
    assert.equal(d.rule, 0);
  });

  test('no matching rule: nothing, rule undefined, explained', () => {
    const d = decide([rule({ account: 'bob' }, ['*'])], user('alice'), 'repository:a:pull');
    assert.deepEqual(d.granted, []);
    assert.equal(d.rule, undefined);
    assert.equal(d.explanation, 'no rule matched');
  });

  test('anonymous rule account: "" matches only the anonymous caller', () => {
    const rules = [rule({ account: '' }, ['pull'])];
    assert.deepEqual(decide(rules, ANONYMOUS, 'repository:a:pull,push').granted, ['pull']);
    assert.deepEqual(decide(rules, user('alice'), 'repository:a:pull').granted, []);
  });

  test('account: "*" means any user: it does not match the anonymous account ""; only account: "" does', () => {
    assert.deepEqual(decide([rule({ account: '*' }, ['pull'])], ANONYMOUS, 'repository:a:pull').granted, []);
    assert.deepEqual(
      decide([rule({ account: '/.*/' }, ['pull'])], ANONYMOUS, 'repository:a:pull').granted,
      [],
    );
    assert.deepEqual(
      decide([rule({ account: ['*', ''] }, ['pull'])], ANONYMOUS, 'repository:a:pull').granted,
      ['pull'],
    );
    assert.deepEqual(decide([rule({}, ['pull'])], ANONYMOUS, 'repository:a:pull').granted, ['pull']);
  });

  test('all match keys must hold: account, provider, type, name, service', () => {
    const r = [
      rule(
        {
          account: 'ci-*',
          provider: 'github',
          type: 'repository',
          name: 'acme/**',
          service: 'registry.test',
        },
        ['push'],
      ),
    ];
    const gh = user('ci-1', {}, 'github');
    assert.deepEqual(decide(r, gh, 'repository:acme/a/b:push').granted, ['push']);
    assert.deepEqual(decide(r, user('ci-1'), 'repository:acme/a:push').granted, [], 'provider');
    assert.deepEqual(decide(r, user('x', {}, 'github'), 'repository:acme/a:push').granted, [], 'account');
    assert.deepEqual(decide(r, gh, 'registry:acme/a:push').granted, [], 'type');
    assert.deepEqual(decide(r, gh, 'repository:other/a:push').granted, [], 'name');
    assert.deepEqual(decide(r, gh, 'repository:acme/a:push', 'other.service').granted, [], 'service');
  });

  test('a list of patterns matches when any of them does', () => {
    const r = [rule({ name: ['a/*', 'b/*'] }, ['pull'])];
    assert.deepEqual(decide(r, user('x'), 'repository:b/x:pull').granted, ['pull']);
    assert.deepEqual(decide(r, user('x'), 'repository:c/x:pull').granted, []);
  });

  test('placeholders: ${account}, ${claims.repository}, ${claims.kubernetes.io.namespace}', () => {
    const rules = [
      rule({ name: '${account}/**' }, ['*']),
      rule({ provider: 'github', name: '${claims.repository}' }, ['pull', 'push']),
      rule({ provider: 'k8s', name: 'k8s/${claims.kubernetes.io.namespace}/*' }, ['pull']),
    ];
    assert.deepEqual(decide(rules, user('alice'), 'repository:alice/x/y:*').granted, ['*']);
    assert.deepEqual(decide(rules, user('alice'), 'repository:bob/x:pull').granted, []);
    const gh = user('acme/app', { repository: 'acme/app' }, 'github');
    assert.deepEqual(decide(rules, gh, 'repository:acme/app:pull,push,delete').granted, ['pull', 'push']);
    assert.deepEqual(decide(rules, gh, 'repository:acme/other:pull').granted, []);
    const pod = user('system:serviceaccount:prod:api', { 'kubernetes.io': { namespace: 'prod' } }, 'k8s');
    assert.deepEqual(decide(rules, pod, 'repository:k8s/prod/api:pull').granted, ['pull']);
    assert.deepEqual(decide(rules, pod, 'repository:k8s/dev/api:pull').granted, []);
  });

  test('a missing claim makes the rule not match, so the next rule decides', () => {
    const rules = [rule({ name: '${claims.repository}' }, ['*']), rule({}, ['pull'])];
    assert.deepEqual(decide(rules, user('x', {}, 'github'), 'repository:acme/app:push,pull').granted, [
      'pull',
    ]);
  });

  test('a claim holding * or .* cannot widen a rule', () => {
    const rules = [
      rule({ name: '${claims.repository}' }, ['*']),
      rule({ name: '/${claims.repository}/' }, ['*']),
    ];
    for (const evil of ['*', '**', '.*', 'acme/*']) {
      const who = user('x', { repository: evil }, 'github');
      assert.deepEqual(decide(rules, who, 'repository:acme/app:push').granted, [], evil);
    }
  });

  test('each scope is decided on its own', () => {
    const acl = new Acl(
      compileRules(
        [rule({ name: 'pub/*' }, ['pull']), rule({ account: 'alice', name: 'alice/*' }, ['*'])],
        undefined,
      ),
    );
    const ds = acl.authorize({
      identity: user('alice'),
      service: 's',
      scopes: ['repository:pub/x:pull,push', 'repository:alice/y:*', 'repository:other/z:pull'].map(
        parseScope,
      ),
      ip: '::1',
    });
    assert.deepEqual(
      ds.map((d) => d.granted),
      [['pull'], ['*'], []],
    );
    assert.deepEqual(
      ds.map((d) => d.rule),
      [0, 1, undefined],
    );
  });

  test('a when condition that is false skips the rule; the condition sees identity and request', () => {
    const seen: ConditionInput[] = [];
    const compile = (source: string) => ({
      source,
      evaluate: (input: ConditionInput) => {
        seen.push(input);
        return input.request.actions.length === 1 && input.request.actions[0] === 'pull';
      },
    });
    const acl = new Acl(
      compileRules([rule({}, ['pull', 'push'], { when: 'x' }), rule({}, [])], 'f.yml', compile),
    );
    const req = (s: string) =>
      acl.authorize({ identity: user('bob'), service: 'svc', scopes: [parseScope(s)], ip: '10.0.0.1' })[0]!;
    assert.deepEqual(req('repository:a:pull').granted, ['pull']);
    const d = req('repository:a:pull,push');
    assert.deepEqual(d.granted, []);
    assert.equal(d.rule, 1);
    assert.deepEqual(seen[0], {
      identity: user('bob'),
      request: { type: 'repository', name: 'a', actions: ['pull'], service: 'svc', ip: '10.0.0.1' },
    });
  });

  test('explanation carries the comment', () => {
    const d = decide([rule({}, ['pull'], { comment: 'everyone pulls' })], user('a'), 'repository:a:pull');
    assert.match(d.explanation, /acl\[0\] \(everyone pulls\) grants \[pull\]/);
  });
});

describe('compileRules errors', () => {
  function configError(fn: () => unknown, path: string, ...includes: (string | RegExp)[]) {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.path, path);
      assert.equal(e.file, 'acl.yml');
      assert.ok(e.message.startsWith(`acl.yml: ${path}: `), e.message);
      for (const inc of includes)
        assert.match(
          e.message,
          typeof inc === 'string' ? new RegExp(inc.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : inc,
        );
      return true;
    });
  }

  test('a bad regex names acl[i].match.KEY', () => {
    configError(
      () => compileRules([rule({}, ['pull']), rule({ name: '/a(/' }, ['pull'])], 'acl.yml'),
      'acl[1].match.name',
      'invalid regular expression',
    );
  });

  test('an unknown placeholder names acl[i].match.KEY', () => {
    configError(
      () => compileRules([rule({ account: '${user}' }, ['pull'])], 'acl.yml'),
      'acl[0].match.account',
      'unknown placeholder ${user}',
    );
  });

  test('in a list, the index of the bad pattern is named', () => {
    configError(
      () => compileRules([rule({ service: ['ok', '/[/'] }, ['pull'])], 'acl.yml'),
      'acl[0].match.service[1]',
    );
  });

  test('a when condition without a condition compiler is an error naming acl[i].when', () => {
    configError(
      () => compileRules([rule({}, ['pull'], { when: 'true' })], 'acl.yml'),
      'acl[0].when',
      'not available',
    );
  });

  test('duplicate actions are merged', () => {
    assert.deepEqual(compileRules([rule({}, ['pull', 'pull', 'push'])], undefined)[0]?.actions, [
      'pull',
      'push',
    ]);
  });
});
