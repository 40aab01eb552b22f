import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Acl, compileRules } from '../../../src/authz/acl.js';
import type { AccessRequest, Authorizer, ScopeAnswer } from '../../../src/authz/authorizer.js';
import { chainAuthorizers } from '../../../src/authz/chain.js';
import type { RuleData } from '../../../src/config/schema.js';
import { Denied } from '../../../src/core/errors.js';
import type { Identity } from '../../../src/core/identity.js';
import { parseScopes } from '../../../src/protocol/scope.js';

const who: Identity = { account: 'alice', provider: 'static', labels: {}, claims: {} };
const request = (...scopes: string[]): AccessRequest => ({
  identity: who,
  service: 'svc',
  scopes: parseScopes(scopes),
  ip: '::1',
});

/** Answers from a table: name → granted (undefined: no decision); records what it was asked. */
function table(
  name: string,
  answers: Record<string, string[] | undefined>,
  asked: string[][] = [],
): Authorizer {
  return {
    authorize: (req) => {
      asked.push(req.scopes.map((s) => s.name));
      return req.scopes.map(
        (s): ScopeAnswer =>
          answers[s.name] === undefined
            ? { requested: s, granted: undefined, explanation: `${name}: not mine` }
            : { requested: s, granted: answers[s.name]!, rule: undefined, explanation: name },
      );
    },
  };
}

describe('chainAuthorizers', () => {
  test('the first decision per scope wins; later members are asked only about the rest', async () => {
    const askedB: string[][] = [];
    const chain = chainAuthorizers([
      table('a', { x: ['pull'] }),
      table('b', { x: ['pull', 'push'], y: ['push'] }, askedB),
    ]);
    const d = await chain.authorize(request('repository:x:pull,push', 'repository:y:pull,push'));
    assert.deepEqual(
      d.map((x) => [x.requested.name, x.granted, x.explanation]),
      [
        ['x', ['pull'], 'a'],
        ['y', ['push'], 'b'],
      ],
    );
    assert.deepEqual(askedB, [['y']]);
  });

  test('an empty grant is a decision: the next member is not asked', async () => {
    const asked: string[][] = [];
    const chain = chainAuthorizers([table('deny', { x: [] }), table('open', { x: ['pull'] }, asked)]);
    const [d] = await chain.authorize(request('repository:x:pull'));
    assert.deepEqual(d!.granted, []);
    assert.deepEqual(asked, [], 'nothing left to ask');
  });

  test('nobody decides: nothing granted, with the last reason given', async () => {
    const [d] = await chainAuthorizers([table('a', {}), table('b', {})]).authorize(
      request('repository:x:pull'),
    );
    assert.deepEqual(d!.granted, []);
    assert.equal(d!.rule, undefined);
    assert.equal(d!.explanation, 'b: not mine');
    const [e] = await chainAuthorizers([]).authorize(request('repository:x:pull'));
    assert.deepEqual(e!.granted, [], 'an empty chain grants nothing');
  });

  test('each member is clamped: no action or scope beyond what was asked', async () => {
    const greedy: Authorizer = {
      authorize: (req) => [
        {
          requested: req.scopes[0]!,
          granted: ['pull', 'push', 'delete'],
          rule: undefined,
          explanation: 'greedy',
        },
        {
          requested: { type: 'repository', name: 'other', actions: ['*'] },
          granted: ['*'],
          rule: undefined,
          explanation: 'not asked',
        },
      ],
    };
    const d = await chainAuthorizers([table('a', {}), greedy]).authorize(request('repository:x:pull'));
    assert.deepEqual(
      d.map((x) => [x.requested.name, x.granted]),
      [['x', ['pull']]],
    );
  });

  test('the ACL as a chain member leaves unmatched scopes to the next', async () => {
    const acl = new Acl(
      compileRules([{ match: { name: 'pub/**' }, actions: ['pull'] } as RuleData], undefined),
    );
    const d = await chainAuthorizers([
      acl.chainMember(),
      table('fallback', { 'team/a': ['push'] }),
    ]).authorize(request('repository:pub/x:pull', 'repository:team/a:push', 'repository:team/b:pull'));
    assert.deepEqual(
      d.map((x) => [x.requested.name, x.granted, x.rule]),
      [
        ['pub/x', ['pull'], 0],
        ['team/a', ['push'], undefined],
        ['team/b', [], undefined],
      ],
    );
    assert.equal(d[2]!.explanation, 'fallback: not mine');
    // The ACL alone (purser check) still decides every scope.
    assert.equal(acl.authorize(request('repository:team/b:pull'))[0]!.explanation, 'no rule matched');
  });

  test('a member that throws Denied refuses the whole request', async () => {
    const deny: Authorizer = {
      authorize: () => {
        throw new Denied('not today');
      },
    };
    await assert.rejects(
      async () => chainAuthorizers([table('a', {}), deny]).authorize(request('repository:x:pull')),
      Denied,
    );
  });
});

test('chainAuthorizers: with no scope requested every member is still asked (one may refuse the caller)', async () => {
  const asked: string[][] = [];
  const deny: Authorizer = {
    authorize: () => {
      throw new Denied('disabled');
    },
  };
  await assert.rejects(
    async () => chainAuthorizers([table('a', {}, asked), deny]).authorize(request()),
    Denied,
  );
  assert.deepEqual(asked, [[]]);
});
