import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decideTag, type TagRule } from '../../../src/authz/tag-policy.js';
import { compileConfig } from '../../../src/compile/compile-config.js';
import { buildConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';
import { ANONYMOUS, type Identity } from '../../../src/core/identity.js';
import { configObject, type KeyFiles, makeKeys } from '../support.js';

let keys: KeyFiles & { cleanup: () => void };
before(async () => {
  keys = await makeKeys();
});
after(() => keys.cleanup());

const proxy = (tags: unknown[]) => ({
  proxy: { listen: '127.0.0.1:0', upstream: 'http://127.0.0.1:5000', tags },
});

async function compileTags(tags: unknown[]): Promise<readonly TagRule[]> {
  const config = buildConfig(configObject(keys, proxy(tags)), undefined, keys.dir);
  return (await compileConfig(config)).tagRules;
}

async function refusal(tags: unknown[]): Promise<ConfigError> {
  try {
    await compileTags(tags);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('the config was accepted');
}

const ci = (ref: string, account = 'acme/app'): Identity => ({
  account,
  provider: 'github',
  labels: {},
  claims: { ref, repository: account },
});
const alice: Identity = { account: 'alice', provider: 'static', labels: {}, claims: {} };

describe('proxy.tags compilation', () => {
  test('a bad when, tags pattern or match names its key', async () => {
    const bad = await refusal([{ tags: 'latest' }, { tags: 'v*' }, { tags: 'x', when: 'claims.ref ==' }]);
    assert.match(bad.message, /proxy\.tags\[2\]\.when/);
    const notBool = await refusal([{ tags: 'x', when: '"a string"' }]);
    assert.match(notBool.message, /proxy\.tags\[0\]\.when/);
    const re = await refusal([{ tags: 'latest' }, { tags: '/v(/' }]);
    assert.match(re.message, /proxy\.tags\[1\]\.tags/);
    const m = await refusal([{ tags: 'x', match: { account: ['ok', '/(/'] } }]);
    assert.match(m.message, /proxy\.tags\[0\]\.match\.account\[1\]/);
    const ph = await refusal([{ tags: '${nope}' }]);
    assert.match(ph.message, /proxy\.tags\[0\]\.tags/);
    const deep = await refusal([{ tags: 'v**' }]);
    assert.match(deep.message, /proxy\.tags\[0\]\.tags: a tag has no/);
  });

  test('the schema refuses unknown keys, other actions and immutable: false', async () => {
    for (const entry of [
      { tags: 'x', actions: ['pull'] },
      { tags: 'x', immutable: false },
      { tags: 'x', mutable: true },
      { tags: '' },
    ]) {
      assert.throws(() => buildConfig(configObject(keys, proxy([entry])), undefined, keys.dir), ConfigError);
    }
  });

  test('no proxy, no tag rules', async () => {
    const config = buildConfig(configObject(keys), undefined, keys.dir);
    assert.deepEqual((await compileConfig(config)).tagRules, []);
  });
});

describe('proxy.tags decisions', () => {
  const base = { repository: 'acme/app', service: 'registry.test', ip: '127.0.0.1' } as const;
  let rules: readonly TagRule[];
  before(async () => {
    rules = await compileTags([
      { tags: 'latest', when: 'claims.ref == "refs/heads/main"', actions: ['push'], comment: 'from main' },
      { tags: 'latest', actions: [] },
      { tags: 'v*', match: { name: 'acme/*' }, immutable: true },
      { tags: '/rc-[0-9]+/', match: { account: '' }, actions: ['push', 'delete'] },
      {
        tags: 'nightly',
        when: 'request.tag == "nightly" && request.actions == ["delete"]',
        actions: ['delete'],
      },
      { tags: '${account}-*', actions: ['push'] },
    ]);
  });
  const decide = (
    identity: Identity,
    tag: string,
    action: 'push' | 'delete' = 'push',
    repository = 'acme/app',
  ) => decideTag(rules, { ...base, identity, tag, action, repository });

  test('the first entry whose tags, match and when hold decides', () => {
    const main = decide(ci('refs/heads/main'), 'latest');
    assert.equal(main.kind, 'allow');
    assert.equal(main.rule?.where, 'proxy.tags[0]');
    const feature = decide(ci('refs/heads/feature'), 'latest');
    assert.deepEqual(feature.kind === 'deny' && [feature.rule.where, feature.message], [
      'proxy.tags[1]',
      'push of tag latest refused by proxy.tags[1]',
    ]);
    // A static user has no ref claim: the condition fails to evaluate, the entry does not apply.
    assert.equal(decide(alice, 'latest').kind, 'deny');
    // Without actions the ACL stands; only immutable is reported.
    const v = decide(alice, 'v1.0.0');
    assert.deepEqual(v.kind === 'allow' && [v.rule?.where, v.immutable], ['proxy.tags[2]', true]);
    // Same tag elsewhere: the match does not hold, no entry applies.
    assert.deepEqual(decide(alice, 'v1.0.0', 'push', 'other/app'), {
      kind: 'allow',
      rule: undefined,
      immutable: false,
    });
  });

  test('actions allow one of push and delete; immutable refuses a delete', () => {
    const del = decide(ci('refs/heads/main'), 'latest', 'delete');
    assert.equal(
      del.kind === 'deny' && del.message,
      'delete of tag latest refused by proxy.tags[0] (from main)',
    );
    const im = decide(alice, 'v2', 'delete');
    assert.equal(im.kind === 'deny' && im.message, 'tag v2 is immutable (proxy.tags[2])');
    // request.tag and request.actions reach the condition.
    assert.equal(decide(alice, 'nightly', 'delete').kind, 'allow');
    assert.equal(decide(alice, 'nightly', 'push').kind, 'allow');
    assert.equal(
      decide(alice, 'nightly', 'push').kind === 'allow' && decide(alice, 'nightly', 'push').rule,
      undefined,
    );
  });

  test('regex tags are anchored; account "" matches only the anonymous caller', () => {
    assert.equal(decide(ANONYMOUS, 'rc-12').kind, 'allow');
    assert.equal(decide(ANONYMOUS, 'rc-12').kind === 'allow' && decide(ANONYMOUS, 'rc-12').rule?.index, 3);
    assert.equal(decide(alice, 'rc-12').kind === 'allow' && decide(alice, 'rc-12').rule, undefined);
    assert.equal(decide(ANONYMOUS, 'xrc-12').kind === 'allow' && decide(ANONYMOUS, 'xrc-12').rule, undefined);
  });

  test('a placeholder in tags is matched literally', () => {
    assert.equal(decide(alice, 'alice-dev').kind === 'allow' && decide(alice, 'alice-dev').rule?.index, 5);
    const star: Identity = { ...alice, account: '*' };
    assert.equal(decide(star, 'alice-dev').kind === 'allow' && decide(star, 'alice-dev').rule, undefined);
  });
});
