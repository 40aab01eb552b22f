// webhooks.authn end to end through the token endpoint, against a real HTTPS receiver.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WebhookAuthenticator } from '../../../src/authn/webhook.js';
import { PurserError } from '../../../src/core/errors.js';
import { Secret } from '../../../src/core/secret.js';
import { closeState } from '../../../src/runtime/runtime.js';
import { silentLogger } from '../../../src/util/log.js';
import { makeTestCa, type TestCa } from '../../helpers/test-ca.js';
import { startWebhookServer, type WebhookServer } from '../../helpers/webhook-server.js';
import {
  basic,
  cheapHash,
  configObject,
  decodeJwt,
  type KeyFiles,
  makeKeys,
  type RunningServer,
  startServer,
  tempDir,
  writeFile,
} from '../support.js';

const SECRET = 'authn-webhook-secret-0123456789abcdef';
const V = 'purser.dev/v1';
const allow = (account: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: V,
  kind: 'AuthnResponse',
  allowed: true,
  identity: { account, ...extra },
});
const refuse = { apiVersion: V, kind: 'AuthnResponse', allowed: false, reason: 'no such user' };

describe('webhooks.authn', () => {
  const tmp = tempDir('purser-authn-webhook-');
  let ca: TestCa;
  let hook: WebhookServer;
  let keys: KeyFiles & { cleanup: () => void };
  let srv: RunningServer;

  const token = (user: string, pw: string, scope = 'repository:team/app:pull') =>
    fetch(`${srv.url}/token?service=registry.test&scope=${encodeURIComponent(scope)}`, {
      headers: { authorization: basic(user, pw) },
    });

  before(async () => {
    ca = makeTestCa(tmp.dir);
    keys = await makeKeys();
    hook = await startWebhookServer(ca, SECRET, () => refuse);
    const secretFile = writeFile(tmp.dir, 'secret', `${SECRET}\n`);
    srv = await startServer(
      configObject(keys, {
        users: { alice: cheapHash('alice-pw') },
        webhooks: {
          authn: { url: hook.url, secret: `\${file:${secretFile}}`, ca: ca.caFile, timeout: 2 },
        },
        auth: { failedLogins: { max: 3, windowSeconds: 60 } },
        acl: [
          { match: { provider: 'webhook', account: 'carol' }, actions: ['pull'] },
          { match: { account: 'alice' }, actions: ['*'] },
        ],
      }),
      tmp.dir,
      { captureLogs: true },
    );
  });
  after(async () => {
    await srv.close();
    await closeState(srv.state);
    await hook.close();
    keys.cleanup();
    tmp.cleanup();
  });
  beforeEach(() => {
    hook.calls.length = 0;
  });

  test('a user the webhook allows gets a token; the webhook saw a signed, versioned request', async () => {
    hook.handler = (call) =>
      call.body.username === 'carol' && call.body.password === 'carol-pw'
        ? allow('carol', { labels: { team: 'blue' }, groups: ['devs', 'devs', 'ops'] })
        : refuse;
    const res = await token('carol', 'carol-pw');
    assert.equal(res.status, 200);
    const jwt = decodeJwt(((await res.json()) as { token: string }).token);
    assert.equal(jwt.payload.sub, 'carol');
    assert.deepEqual(jwt.payload.access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    assert.equal(hook.calls.length, 1);
    const call = hook.calls[0]!;
    assert.equal(call.signatureValid, true);
    assert.deepEqual(call.body, {
      apiVersion: V,
      kind: 'AuthnRequest',
      username: 'carol',
      password: 'carol-pw',
      service: 'registry.test',
      scopes: [{ type: 'repository', name: 'team/app', actions: ['pull'] }],
      ip: '127.0.0.1',
    });
  });

  test('a static user is never sent to the webhook', async () => {
    assert.equal((await token('alice', 'alice-pw')).status, 200);
    assert.equal((await token('alice', 'wrong')).status, 401);
    assert.equal(hook.calls.length, 0);
  });

  test('a refusal is a counted failed login (401, then 429), and is not cached', async () => {
    hook.handler = () => refuse;
    for (let i = 0; i < 3; i++) {
      const res = await token('mallory', `guess${i}`);
      assert.equal(res.status, 401);
      assert.match(await res.text(), /invalid username or password/);
    }
    assert.equal((await token('mallory', 'guess3')).status, 429);
    assert.equal(hook.calls.length, 3, 'each refusal asked the webhook again; the 429 did not');
  });

  test('an allowed answer is cached: the same credentials do not call again', async () => {
    hook.handler = () => allow('dave');
    assert.equal((await token('dave', 'dave-pw')).status, 200);
    assert.equal((await token('dave', 'dave-pw')).status, 200);
    assert.equal(hook.calls.length, 1);
    // Other credentials (or scopes) are another request.
    assert.equal((await token('dave', 'dave-pw2')).status, 200);
    assert.equal(hook.calls.length, 2);
    const metrics = await srv.metrics.render();
    assert.match(metrics, /purser_webhook_calls_total\{hook="authn",outcome="hit"\} 1\n/);
    assert.match(metrics, /purser_webhook_duration_seconds_count\{hook="authn"\} \d+/);
  });

  test('a webhook down, slow or hostile: 503 UNAVAILABLE, not counted as a failed login', async () => {
    const outages: ((call: unknown, res: import('node:http').ServerResponse) => unknown)[] = [
      (_c, res) => void res.writeHead(500).end(),
      () => new Promise((r) => setTimeout(() => r(allow('erin')), 6000)),
      () => ({ ...allow('erin'), extra: 1 }),
      () => ({
        apiVersion: 'purser.dev/v2',
        kind: 'AuthnResponse',
        allowed: true,
        identity: { account: 'x' },
      }),
      () => allow('er\u0000in'),
      () => ({ ...allow('erin'), allowed: 'yes' }),
      (_c, res) => void res.writeHead(200).end('x'.repeat(70_000)),
      (_c, res) => void res.writeHead(302, { location: 'https://127.0.0.1:1/' }).end(),
    ];
    for (const h of outages) {
      hook.handler = h;
      const res = await token('erin', 'erin-pw');
      assert.equal(res.status, 503);
      const body = (await res.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
      assert.equal(body.errors[0]!.message, 'the authentication webhook is unavailable; try again shortly');
    }
    // Eight outages for one username, over failedLogins.max (3): none was counted, and a
    // failure was not cached.
    hook.handler = () => allow('erin');
    assert.equal((await token('erin', 'erin-pw')).status, 200);
    const logs = srv.logs.join('\n');
    assert.match(
      logs,
      /webhooks\.authn https:\/\/127\.0\.0\.1:\d+\/hook: (HTTP 500|no answer within 2000 ms)/,
    );
    assert.ok(!logs.includes(SECRET), 'a log line holds the secret');
    assert.ok(!logs.includes('erin-pw'), 'a log line holds the password');
  });

  test('the cache expires after cacheSeconds (clock injected)', async () => {
    let now = Date.now();
    const a = new WebhookAuthenticator({
      url: hook.url,
      secret: new Secret(SECRET),
      ca: ca.caPem,
      timeoutMs: 1000,
      maxResponseBytes: 65536,
      cacheSeconds: 60,
      cacheEntries: 10,
      logger: silentLogger,
      now: () => now,
    });
    try {
      hook.handler = () => allow('frank');
      const creds = { username: 'frank', password: new Secret('pw') };
      const r1 = await a.authenticate(creds, { ip: '10.0.0.1' });
      assert.equal(r1.outcome, 'authenticated');
      assert.equal(r1.outcome === 'authenticated' && r1.identity.provider, 'webhook');
      now += 59_000;
      await a.authenticate(creds, { ip: '10.0.0.1' });
      assert.equal(hook.calls.length, 1, 'within the TTL: cached');
      now += 2_000;
      hook.handler = () => refuse;
      const r3 = await a.authenticate(creds, { ip: '10.0.0.1' });
      assert.equal(hook.calls.length, 2, 'after the TTL: asked again');
      assert.equal(r3.outcome, 'rejected');
      // Down: a thrown UNAVAILABLE ("could not decide"), never a rejection.
      hook.handler = (_c, res) => void res.destroy();
      await assert.rejects(
        a.authenticate(creds, { ip: '10.0.0.1' }),
        (e) => e instanceof PurserError && e.code === 'UNAVAILABLE' && !String(e.detail).includes(SECRET),
      );
    } finally {
      await a.close();
    }
  });
});
