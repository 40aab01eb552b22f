// webhooks.authz as a member of the authorizer chain, against a real HTTPS receiver.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { ScopeDecision } from '../../../src/authz/authorizer.js';
import type { Identity } from '../../../src/core/identity.js';
import { parseScope } from '../../../src/protocol/scope.js';
import { closeState } from '../../../src/runtime/runtime.js';
import { makeTestCa, type TestCa } from '../../helpers/test-ca.js';
import { type ReceivedCall, startWebhookServer, type WebhookServer } from '../../helpers/webhook-server.js';
import {
  configObject,
  type KeyFiles,
  makeKeys,
  type RunningServer,
  startServer,
  tempDir,
} from '../support.js';

const SECRET = 'authz-webhook-secret-0123456789abcdef';
const V = 'purser.dev/v1';
type Grant = { type: string; name: string; actions: string[] | null; reason?: string };
const answer = (scopes: Grant[]) => ({ apiVersion: V, kind: 'AuthzResponse', scopes });
/** Answers per requested repository name from a table; unknown names are left undecided. */
const byName =
  (table: Record<string, string[] | null>) =>
  (call: ReceivedCall): unknown =>
    answer(
      (call.body.scopes as { type: string; name: string }[]).map((s) => ({
        type: s.type,
        name: s.name,
        actions: s.name in table ? table[s.name]! : null,
      })),
    );

const CI: Identity = {
  account: 'ci',
  provider: 'ci-issuer',
  labels: { repo: 'org/app' },
  claims: { repository: 'org/app', sub: 'repo:org/app', jti: 'do-not-send' },
  groups: ['builders'],
};

describe('webhooks.authz', () => {
  const tmp = tempDir('purser-authz-webhook-');
  let ca: TestCa;
  let hook: WebhookServer;
  let keys: KeyFiles & { cleanup: () => void };
  const servers: RunningServer[] = [];
  const ACL = [
    { match: { name: 'acl/*' }, actions: ['pull', 'push'] },
    { match: { name: 'shared/*' }, actions: ['pull'] },
  ];
  const start = async (order: 'before-acl' | 'after-acl') => {
    const s = await startServer(
      configObject(keys, {
        users: { alice: { password: 'alice-pw' } },
        webhooks: {
          authz: {
            url: hook.url,
            secret: SECRET,
            ca: ca.caFile,
            timeout: 2, // generous: a loaded CI machine must not turn a good answer into a timeout
            order,
            claims: ['repository'],
          },
        },
        acl: ACL,
      }),
      tmp.dir,
      { captureLogs: true },
    );
    servers.push(s);
    return s;
  };
  const decide = async (s: RunningServer, scopes: string[], identity: Identity = CI) =>
    (await s.state.authorizer.authorize({
      identity,
      service: 'registry.test',
      scopes: scopes.map(parseScope),
      ip: '10.1.2.3',
    })) as ScopeDecision[];
  const granted = (ds: ScopeDecision[]) => ds.map((d) => d.granted);

  before(async () => {
    ca = makeTestCa(tmp.dir);
    keys = await makeKeys();
    hook = await startWebhookServer(ca, SECRET, () => answer([]));
  });
  after(async () => {
    for (const s of servers) {
      await s.close();
      await closeState(s.state);
    }
    await hook.close();
    keys.cleanup();
    tmp.cleanup();
  });
  beforeEach(() => {
    hook.calls.length = 0;
  });

  test('the request carries the verified identity and the chosen claims only, signed', async () => {
    const s = await start('before-acl');
    hook.handler = byName({ 'org/app': ['pull'] });
    assert.deepEqual(granted(await decide(s, ['repository:org/app:pull,push'])), [['pull']]);
    const call = hook.calls[0]!;
    assert.equal(call.signatureValid, true);
    assert.deepEqual(call.body, {
      apiVersion: V,
      kind: 'AuthzRequest',
      identity: {
        account: 'ci',
        provider: 'ci-issuer',
        labels: { repo: 'org/app' },
        groups: ['builders'],
        claims: { repository: 'org/app' },
      },
      service: 'registry.test',
      ip: '10.1.2.3',
      scopes: [{ type: 'repository', name: 'org/app', actions: ['pull', 'push'] }],
    });
  });

  test('before-acl: the webhook decides first; null leaves a scope to the ACL; [] denies', async () => {
    const s = await start('before-acl');
    hook.handler = byName({ 'org/a': ['pull'], 'acl/x': [], 'acl/y': null });
    assert.deepEqual(
      granted(
        await decide(s, [
          'repository:org/a:pull',
          'repository:org/b:pull',
          'repository:acl/x:pull',
          'repository:acl/y:push',
        ]),
      ),
      [['pull'], [], [], ['push']],
    );
  });

  test('answers are clamped: no action or scope beyond the request', async () => {
    const s = await start('before-acl');
    hook.handler = () =>
      answer([
        { type: 'repository', name: 'org/extra', actions: ['*'] },
        { type: 'repository', name: 'org/a', actions: ['*', 'delete'] },
        { type: 'repository', name: 'org/b', actions: ['push', 'bogus'] },
      ]);
    const ds = await decide(s, ['repository:org/a:pull', 'repository:org/b:pull']);
    assert.deepEqual(granted(ds), [['pull'], []]);
    assert.deepEqual(
      ds.map((d) => d.requested.name),
      ['org/a', 'org/b'],
    );
  });

  test('after-acl: the ACL decides the scopes its rules match; the webhook only the rest', async () => {
    const s = await start('after-acl');
    hook.handler = byName({ 'acl/x': ['*'], 'org/a': ['pull'] });
    assert.deepEqual(granted(await decide(s, ['repository:acl/x:delete', 'repository:org/a:pull'])), [
      [],
      ['pull'],
    ]);
    assert.equal(hook.calls.length, 1);
    assert.deepEqual(
      (hook.calls[0]!.body.scopes as { name: string }[]).map((x) => x.name),
      ['org/a'],
      'the webhook was asked only about the scope the ACL left',
    );
  });

  test('a valid answer is cached for the same request; another request asks again', async () => {
    const s = await start('before-acl');
    hook.handler = byName({ 'org/a': ['pull'] });
    await decide(s, ['repository:org/a:pull']);
    await decide(s, ['repository:org/a:pull']);
    assert.equal(hook.calls.length, 1);
    await decide(s, ['repository:org/a:pull'], { ...CI, account: 'other' });
    assert.equal(hook.calls.length, 2);
  });

  test('down, slow or malformed: fail closed (even where the ACL would grant), logged by name, never cached', async () => {
    const s = await start('before-acl');
    const failures: ((c: ReceivedCall, res: import('node:http').ServerResponse) => unknown)[] = [
      (_c, res) => void res.writeHead(503).end(),
      () => new Promise((r) => setTimeout(() => r(answer([])), 6000)),
      () => ({ ...answer([]), kind: 'AuthnResponse' }),
      () => answer([{ type: 'repository', name: 'acl/x', actions: 'pull' as unknown as string[] }]),
      () => ({ scopes: [] }),
      (_c, res) => void res.writeHead(200).end('[not json'),
      (_c, res) => void res.destroy(),
    ];
    for (const f of failures) {
      hook.handler = f;
      const ds = await decide(s, ['repository:acl/x:pull', 'repository:shared/y:pull']);
      assert.deepEqual(granted(ds), [[], []]);
      assert.match(ds[0]!.explanation, /the authorization webhook failed/);
    }
    const warnings = s.logs.filter((l) => l.includes('the authorization webhook failed'));
    assert.equal(warnings.length, failures.length);
    for (const w of warnings) {
      assert.match(w, /webhooks\.authz/);
      assert.match(w, /https:\/\/127\.0\.0\.1:\d+\/hook/);
      assert.ok(!w.includes(SECRET));
    }
    // Back up: answered at once, nothing of the failures was kept.
    hook.handler = byName({ 'acl/x': null, 'shared/y': null });
    assert.deepEqual(granted(await decide(s, ['repository:acl/x:pull', 'repository:shared/y:pull'])), [
      ['pull'],
      ['pull'],
    ]);
  });
});
