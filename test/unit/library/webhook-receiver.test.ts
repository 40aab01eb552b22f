// examples/webhook-receiver.ts, the receiver docs/authentication.md shows, works with Purser:
// its signature check accepts Purser's requests and refuses others.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Receiver, startReceiver } from '../../../examples/webhook-receiver.js';
import { Secret } from '../../../src/core/secret.js';
import { closeState } from '../../../src/runtime/runtime.js';
import { WebhookCallError, WebhookClient } from '../../../src/util/webhook-client.js';
import { makeTestCa, type TestCa } from '../../helpers/test-ca.js';
import {
  basic,
  configObject,
  decodeJwt,
  type KeyFiles,
  makeKeys,
  type RunningServer,
  startServer,
  tempDir,
} from '../support.js';

const SECRET = 'example-receiver-secret-0123456789abcdef';

describe('examples/webhook-receiver', () => {
  const tmp = tempDir('purser-receiver-');
  let ca: TestCa;
  let keys: KeyFiles & { cleanup: () => void };
  let receiver: Receiver;
  let srv: RunningServer;
  before(async () => {
    ca = makeTestCa(tmp.dir);
    keys = await makeKeys();
    receiver = await startReceiver({ cert: ca.certPem, key: ca.keyPem, secret: SECRET });
    const hook = (path: string) => ({ url: `${receiver.url}${path}`, secret: SECRET, ca: ca.caFile });
    srv = await startServer(
      configObject(keys, {
        webhooks: { authn: hook('/authn'), authz: hook('/authz') },
        acl: [{ match: { name: 'public/*' }, actions: ['pull'] }],
      }),
      tmp.dir,
    );
  });
  after(async () => {
    await srv.close();
    await closeState(srv.state);
    await receiver.close();
    keys.cleanup();
    tmp.cleanup();
  });

  test('carol logs in through it and pulls team/ by her group; the ACL decides the rest', async () => {
    const scope = ['repository:team/app:pull,push', 'repository:other/app:pull', 'repository:public/x:pull'];
    const res = await fetch(
      `${srv.url}/token?service=registry.test&${scope.map((s) => `scope=${s}`).join('&')}`,
      {
        headers: { authorization: basic('carol', 'carol-pw') },
      },
    );
    assert.equal(res.status, 200, await res.clone().text());
    const claims = decodeJwt(((await res.json()) as { token: string }).token).payload;
    assert.equal(claims.sub, 'carol');
    assert.deepEqual(claims.access, [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
      { type: 'repository', name: 'public/x', actions: ['pull'] },
    ]);
    const wrong = await fetch(`${srv.url}/token?service=registry.test`, {
      headers: { authorization: basic('carol', 'nope') },
    });
    assert.equal(wrong.status, 401);
  });

  test('a request signed with another secret is refused (401)', async () => {
    const c = new WebhookClient({
      url: `${receiver.url}/authn`,
      secret: new Secret(`${SECRET}-other`),
      ca: ca.caPem,
      timeoutMs: 2000,
      maxResponseBytes: 65536,
    });
    try {
      await assert.rejects(
        c.post({
          apiVersion: 'purser.dev/v1',
          kind: 'AuthnRequest',
          username: 'carol',
          password: 'carol-pw',
        }),
        (e) => e instanceof WebhookCallError && /HTTP 401/.test(e.message),
      );
    } finally {
      await c.close();
    }
  });
});
