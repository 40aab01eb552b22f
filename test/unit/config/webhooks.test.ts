// Load-time refusals of webhooks: (compile/compile-config.ts and the schema).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileConfig } from '../../../src/compile/compile-config.js';
import { buildConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';
import { makeTestCa, type TestCa } from '../../helpers/test-ca.js';
import { configObject, type KeyFiles, makeKeys, tempDir, writeFile } from '../support.js';

const SECRET = 'config-webhook-secret-0123456789abcdef';

describe('webhooks configuration', () => {
  const tmp = tempDir('purser-webhook-config-');
  let keys: KeyFiles & { cleanup: () => void };
  let ca: TestCa;
  before(async () => {
    keys = await makeKeys();
    ca = makeTestCa(tmp.dir);
  });
  after(() => {
    keys.cleanup();
    tmp.cleanup();
  });

  const compile = (webhooks: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    compileConfig(buildConfig(configObject(keys, { webhooks, ...extra }), 'purser.yml', tmp.dir));
  const refused = (path: string, message: RegExp) => (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.path, path);
    assert.match(e.message, message);
    assert.ok(!e.message.includes(SECRET), 'the message shows the secret');
    return true;
  };

  test('a complete webhook compiles, with defaults and its CA read', async () => {
    const c = await compile({
      authn: { url: 'https://auth.example/authn', secret: SECRET, ca: ca.caFile },
      authz: { url: 'https://auth.example/authz', secret: SECRET },
    });
    const authn = c.config.webhooks.authn!;
    assert.equal(authn.timeout, 2);
    assert.equal(authn.maxResponseBytes, 65536);
    assert.equal(authn.cacheSeconds, 60);
    assert.equal(String(authn.secret), '***');
    assert.equal(c.config.webhooks.authz!.order, 'before-acl');
    assert.equal(c.webhookCas.authn, ca.caPem);
    assert.equal(c.webhookCas.authz, undefined);
  });

  test('http:// is refused, naming the key (no loopback exception)', async () => {
    for (const url of ['http://auth.example/authn', 'http://127.0.0.1:8080/authn']) {
      await assert.rejects(
        compile({ authn: { url, secret: SECRET } }),
        refused('webhooks.authn.url', /only https:\/\/ is accepted/),
      );
    }
    await assert.rejects(
      compile({ authz: { url: 'ftp://x/', secret: SECRET } }),
      refused('webhooks.authz.url', /only https/),
    );
  });

  test('credentials in the URL are refused, and not shown', async () => {
    await assert.rejects(
      compile({ authz: { url: 'https://u:hunter2@auth.example/', secret: SECRET } }),
      (e) =>
        refused('webhooks.authz.url', /no user or password in the URL/)(e) && !String(e).includes('hunter2'),
    );
  });

  test('a short secret, an unknown key, an unreadable or empty CA are refused; PEM through ${file:} is inline', async () => {
    assert.throws(
      () =>
        buildConfig(
          configObject(keys, { webhooks: { authn: { url: 'https://a/', secret: 'short' } } }),
          'purser.yml',
          tmp.dir,
        ),
      refused('webhooks.authn.secret', /32/),
    );
    assert.throws(
      () =>
        buildConfig(
          configObject(keys, { webhooks: { authz: { url: 'https://a/', secret: SECRET, mode: 'union' } } }),
          'purser.yml',
          tmp.dir,
        ),
      refused('webhooks.authz', /unknown key "mode"/),
    );
    await assert.rejects(
      compile({ authn: { url: 'https://a/', secret: SECRET, ca: 'missing.pem' } }),
      refused('webhooks.authn.ca', /cannot read .*missing\.pem: ENOENT/),
    );
    const junk = writeFile(tmp.dir, 'junk.pem', 'not a certificate\n');
    await assert.rejects(
      compile({ authn: { url: 'https://a/', secret: SECRET, ca: junk } }),
      refused('webhooks.authn.ca', /holds no PEM certificate/),
    );
    // ${file:} puts the PEM itself here: taken as inline PEM (config from Secrets has no files).
    const inline = await compile({
      authn: { url: 'https://a/', secret: SECRET, ca: `\${file:${ca.caFile}}` },
    });
    assert.equal(inline.webhookCas.authn?.trim(), ca.caPem.trim());
  });

  test('webhooks.authn alone is a way to authenticate', async () => {
    const auth = { anonymous: false };
    await assert.rejects(compile({}, { auth }), refused('users', /no way to authenticate/));
    await compile({ authn: { url: 'https://a/', secret: SECRET } }, { auth });
  });

  test('no OIDC provider may call itself webhook', () => {
    assert.throws(
      () =>
        buildConfig(
          configObject(keys, {
            providers: [{ name: 'webhook', issuer: 'https://issuer.example', audience: 'x' }],
          }),
          'purser.yml',
          tmp.dir,
        ),
      refused('providers[0].name', /reserved/),
    );
  });
});
