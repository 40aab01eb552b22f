// Issue 8 hole 10: whatever an authorizer answers, what is granted is clamped to what was asked.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Authorizer, ScopeDecision } from '../../../src/authz/authorizer.js';
import { clampActions, clampDecisions, clampedAuthorizer } from '../../../src/authz/clamp.js';
import { ANONYMOUS } from '../../../src/core/identity.js';
import { parseScope, type Scope } from '../../../src/protocol/scope.js';

const scope = (s: string): Scope => parseScope(s);
const decision = (requested: Scope, granted: string[]): ScopeDecision => ({
  requested,
  granted,
  rule: 0,
  explanation: 'x',
});

describe('clampActions', () => {
  const cases: [string[], unknown, string[]][] = [
    [['pull'], ['pull', 'push', 'delete'], ['pull']],
    [['pull'], ['*'], ['pull']],
    [['pull', 'push'], ['*'], ['pull', 'push']],
    [['*'], ['*'], ['*']],
    [['*'], ['pull', 'delete'], ['pull', 'delete']],
    [['*'], ['pull', 'admin'], ['pull']],
    [['pull', '*'], ['*'], ['pull', '*']],
    [['pull'], [], []],
    [['pull'], ['push'], []],
    [[], ['*'], []],
    [['pull'], 'pull', []],
    [['pull'], undefined, []],
    [['pull'], [1, null, 'pull'], ['pull']],
    [
      ['pull', 'push'],
      ['push', 'pull', 'push'],
      ['pull', 'push'],
    ],
  ];
  for (const [requested, granted, want] of cases) {
    test(`${JSON.stringify(requested)} granted ${JSON.stringify(granted)} → ${JSON.stringify(want)}`, () => {
      assert.deepEqual(clampActions(requested, granted), want);
    });
  }

  test('property: the result only holds requested actions, or known ones for a requested *', () => {
    const action = fc.constantFrom<string>('pull', 'push', 'delete', '*', 'admin', '');
    fc.assert(
      fc.property(fc.uniqueArray(action), fc.array(action), (requested, granted) => {
        const out = clampActions(requested, granted);
        assert.equal(new Set(out).size, out.length);
        for (const a of out) {
          const viaStar = requested.includes('*') && ['pull', 'push', 'delete'].includes(a);
          assert.ok(requested.includes(a) || viaStar, `${a} not requested`);
          assert.ok(granted.includes(a) || granted.includes('*'), `${a} not granted`);
        }
      }),
    );
  });
});

describe('clampDecisions', () => {
  const app = scope('repository:team/app:pull');
  const secret = scope('repository:prod/secret:pull,push,delete');

  test('a decision for another scope grants nothing for the requested one', () => {
    const out = clampDecisions([app], [decision(secret, ['pull', 'push', 'delete'])]);
    assert.deepEqual(out.length, 1);
    assert.deepEqual(out[0]!.requested, app);
    assert.deepEqual(out[0]!.granted, []);
  });

  test('missing decisions, extra decisions, garbage and reordering', () => {
    const other = scope('repository:team/other:pull,push');
    assert.deepEqual(
      clampDecisions([app, other], []).map((d) => d.granted),
      [[], []],
    );
    assert.deepEqual(
      clampDecisions([app, other], 'nonsense').map((d) => d.granted),
      [[], []],
    );
    const out = clampDecisions(
      [app, other],
      [null, decision(other, ['push']), decision(app, ['*']), decision(secret, ['*']), { requested: 1 }],
    );
    assert.deepEqual(
      out.map((d) => [d.requested.name, d.granted]),
      [
        ['team/app', ['pull']],
        ['team/other', ['push']],
      ],
    );
  });

  test('a decision whose `requested` was rewritten to ask nothing still answers for the real scope', () => {
    const out = clampDecisions([app], [decision({ ...app, actions: [] }, [])]);
    assert.deepEqual(out[0]!.requested.actions, ['pull']);
    assert.deepEqual(out[0]!.granted, []);
  });

  test('the same repository asked twice (a mount onto itself) takes a decision each', () => {
    const push = scope('repository:team/app:push,pull');
    const out = clampDecisions([push, app], [decision(push, ['push', 'pull']), decision(app, ['pull'])]);
    assert.deepEqual(
      out.map((d) => d.granted),
      [['push', 'pull'], ['pull']],
    );
  });

  test('an explanation is kept, bounded', () => {
    const d = { ...decision(app, ['pull']), explanation: 'x'.repeat(100_000) };
    assert.equal(clampDecisions([app], [d])[0]!.explanation.length, 500);
  });

  test('a class must match too', () => {
    const plugin = scope('repository(plugin):team/app:pull');
    assert.deepEqual(clampDecisions([plugin], [decision(app, ['pull'])])[0]!.granted, []);
  });
});

describe('clampedAuthorizer', () => {
  const ask = (a: Authorizer, scopes: Scope[]) =>
    clampedAuthorizer(a).authorize({ identity: ANONYMOUS, service: 's', scopes, ip: '127.0.0.1' });

  test('an authorizer that renames the scope it is given and grants it gets nothing', async () => {
    const renaming: Authorizer = {
      authorize(req) {
        const s = req.scopes[0]!;
        (s as { name: string }).name = 'prod/secret';
        s.actions.push('delete');
        return [decision(s, ['*'])];
      },
    };
    const asked = scope('repository:team/app:pull');
    const out = await ask(renaming, [asked]);
    assert.deepEqual(out, [
      {
        requested: { type: 'repository', name: 'team/app', actions: ['pull'] },
        granted: [],
        rule: undefined,
        explanation: 'the authorizer gave no decision',
      },
    ]);
    assert.deepEqual(asked, scope('repository:team/app:pull'));
  });

  test('an authorizer that adds actions to its copy is held to the actions asked', async () => {
    const widening: Authorizer = {
      authorize(req) {
        const s = req.scopes[0]!;
        s.actions.push('delete', 'push');
        return [decision(s, [...s.actions])];
      },
    };
    const asked = scope('repository:team/app:pull');
    const [d] = await ask(widening, [asked]);
    assert.deepEqual(d!.granted, ['pull']);
    assert.deepEqual(d!.requested.actions, ['pull']);
    assert.deepEqual(asked.actions, ['pull']);
  });

  test("an authorizer that changes the identity it is given changes nobody else's", async () => {
    const identity = { account: 'alice', provider: 'static', labels: {}, claims: {} };
    const changing: Authorizer = {
      authorize(req) {
        (req.identity as { account: string }).account = 'root';
        return req.scopes.map((s) => decision(s, ['pull']));
      },
    };
    await clampedAuthorizer(changing).authorize({
      identity,
      service: 's',
      scopes: [scope('repository:team/app:pull')],
      ip: '127.0.0.1',
    });
    assert.equal(identity.account, 'alice');
  });
});
