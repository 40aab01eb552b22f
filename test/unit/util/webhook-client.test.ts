// The webhook transport against a real HTTPS server on loopback with a test CA: signature,
// TLS verification, timeout, bounded answers, redirects.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Secret } from '../../../src/core/secret.js';
import { WebhookCallError, WebhookClient, webhookSignature } from '../../../src/util/webhook-client.js';
import { makeTestCa, type TestCa } from '../../helpers/test-ca.js';
import { startWebhookServer, type WebhookServer } from '../../helpers/webhook-server.js';
import { tempDir } from '../support.js';

const SECRET = 'a-shared-secret-of-at-least-32-characters';

const rejectsWith = (reason: WebhookCallError['reason'], message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof WebhookCallError, `expected a WebhookCallError, got ${String(e)}`);
  assert.equal(e.reason, reason, e.message);
  if (message) assert.match(e.message, message);
  assert.ok(!e.message.includes(SECRET), 'the message holds the secret');
  return true;
};

describe('WebhookClient', () => {
  const tmp = tempDir('purser-webhook-');
  let ca: TestCa;
  let other: TestCa;
  let server: WebhookServer;
  const clients: WebhookClient[] = [];
  const client = (o: Partial<ConstructorParameters<typeof WebhookClient>[0]> = {}) => {
    const c = new WebhookClient({
      url: server.url,
      secret: new Secret(SECRET),
      ca: ca.caPem,
      timeoutMs: 1000,
      maxResponseBytes: 1024,
      ...o,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    ca = makeTestCa(tmp.dir);
    other = makeTestCa(tmp.dir, 'other-ca');
    server = await startWebhookServer(ca, SECRET, () => ({ ok: true }));
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
    tmp.cleanup();
  });

  test('signs timestamp.body with HMAC-SHA256, verifiable by the receiver', async () => {
    server.handler = (call) => ({ echo: call.body });
    const now = Date.now();
    const answer = await client({ now: () => now }).post({ hello: 'world' });
    assert.deepEqual(answer, { echo: { hello: 'world' } });
    const call = server.calls.at(-1)!;
    assert.equal(call.signatureValid, true);
    assert.equal(call.headers['purser-timestamp'], String(Math.floor(now / 1000)));
    assert.equal(call.headers['content-type'], 'application/json');
    assert.equal(
      call.headers['purser-signature'],
      webhookSignature(SECRET, String(Math.floor(now / 1000)), call.raw),
    );
    // Another secret, or another body, gives another signature.
    assert.notEqual(webhookSignature(`${SECRET}x`, '1', 'b'), webhookSignature(SECRET, '1', 'b'));
    assert.notEqual(webhookSignature(SECRET, '1', 'b '), webhookSignature(SECRET, '1', 'b'));
  });

  test('a certificate from another CA is refused (and so are Node root CAs alone)', async () => {
    await assert.rejects(client({ ca: other.caPem }).post({}), rejectsWith('tls'));
    await assert.rejects(client({ ca: undefined }).post({}), rejectsWith('tls'));
  });

  test('no answer within the timeout fails, and the slow server does not hold the caller', async () => {
    server.handler = () => new Promise((resolve) => setTimeout(() => resolve({ late: true }), 3000));
    const t0 = Date.now();
    await assert.rejects(client({ timeoutMs: 300 }).post({}), rejectsWith('timeout', /300 ms/));
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  });

  test('an answer whose body trickles past the deadline fails too', async () => {
    server.handler = (_c, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"a":');
      const t = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(t));
      return undefined;
    };
    await assert.rejects(client({ timeoutMs: 400 }).post({}), rejectsWith('timeout'));
  });

  test('an answer over maxResponseBytes is cut off, declared or streamed', async () => {
    server.handler = () => ({ big: 'x'.repeat(5000) });
    await assert.rejects(client().post({}), rejectsWith('too_large', /1024 bytes/));
    server.handler = (_c, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }); // chunked, no length
      const t = setInterval(() => res.write('x'.repeat(512)), 5);
      res.on('close', () => clearInterval(t));
      return undefined;
    };
    await assert.rejects(client().post({}), rejectsWith('too_large'));
  });

  test('malformed JSON, a non-200 status and a redirect fail', async () => {
    server.handler = (_c, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"allowed": tru');
    };
    await assert.rejects(client().post({}), rejectsWith('not_json'));
    server.handler = (_c, res) => {
      res.writeHead(500).end('{}');
    };
    await assert.rejects(client().post({}), rejectsWith('status', /HTTP 500/));
    server.handler = (_c, res) => {
      res.writeHead(307, { location: `${server.url}?again=1` }).end();
    };
    const before = server.calls.length;
    await assert.rejects(client().post({}), rejectsWith('status', /HTTP 307 \(redirects are not followed\)/));
    assert.equal(server.calls.length, before + 1, 'the redirect was followed');
  });

  test('a closed port is a network failure', async () => {
    const c = client({ url: 'https://127.0.0.1:1/hook' });
    await assert.rejects(c.post({}), rejectsWith('network', /ECONNREFUSED/));
  });
});
