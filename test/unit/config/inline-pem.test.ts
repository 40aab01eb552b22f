// Keys that name a PEM file also take the PEM itself (issue 10 part 3: a configuration from a
// Kubernetes Secret has no directory for files): token keys and certificates, OIDC CA bundles
// and public keys, TLS. Before, PEM there was refused as "key material where a path belongs".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeKeyPair } from '../../../src/cli/keys.js';
import { registrySnippets } from '../../../src/cli/registry-config.js';
import { compileConfig } from '../../../src/compile/compile-config.js';
import { buildConfig } from '../../../src/config/load.js';
import { listenOn } from '../../../src/http/listen.js';
import { referencedFiles } from '../../../src/runtime/file-watch.js';
import { silentLogger } from '../../../src/util/log.js';
import { tempDir } from '../support.js';

describe('inline PEM', () => {
  const t = tempDir('purser-inline-pem-');
  let key = '';
  let crt = '';
  before(async () => {
    const k = await writeKeyPair(t.dir, 'ES256', { cn: '127.0.0.1' });
    key = readFileSync(k.keyPath, 'utf8');
    crt = readFileSync(join(t.dir, 'token.crt'), 'utf8');
  });
  after(() => t.cleanup());

  const base = () => ({
    token: { issuer: 'i', service: 's', key, certificate: crt, keyId: 'x5c' },
    users: { a: { password: 'b' } },
    acl: [{ match: {}, actions: ['pull'] }],
  });

  test('token.key and token.certificate inline sign with x5c; nothing to watch; no PEM in the registry snippet', async () => {
    const c = buildConfig(base(), undefined, t.dir);
    assert.equal(c.token.keys[0]!.key, key, 'inline PEM is not resolved as a path');
    const compiled = await compileConfig(c);
    assert.equal(compiled.signingKeys[0]!.x5c?.length, 1);
    assert.deepEqual(referencedFiles(c), []);
    const s = registrySnippets(c, 'http://127.0.0.1:5001/token');
    assert.doesNotMatch(s.distribution2, /BEGIN/);
    assert.match(s.distribution2, /rootcertbundle: <a file holding the inline certificate of token key 0>/);
  });

  test('token.keys[] entries and providers[].ca and providers[].keys take PEM too', async () => {
    const { certificate: _c, keyId: _k, key: _key, ...token } = base().token;
    const c = buildConfig(
      {
        ...base(),
        token: { ...token, keys: [{ key, certificate: crt }] },
        providers: [
          { name: 'ci', issuer: 'https://issuer.example', audience: 'a', ca: crt },
          { name: 'air', issuer: 'https://air.example', audience: 'a', keys: crt },
        ],
      },
      undefined,
      t.dir,
    );
    assert.equal(c.providers[0]!.ca, crt);
    const compiled = await compileConfig(c);
    assert.equal(compiled.signingKeys.length, 1);
    assert.match(compiled.providerFingerprints[0]!, /BEGIN CERTIFICATE/);
  });

  test('tls.cert and tls.key inline serve HTTPS', async () => {
    const c = buildConfig({ ...base(), tls: { cert: crt, key } }, undefined, t.dir);
    const { server, url } = await listenOn(
      '127.0.0.1:0',
      (_req, res) => {
        res.end('ok');
      },
      {
        tls: c.tls,
        headersTimeout: 5_000,
        requestTimeout: 5_000,
        guard: {
          name: 'token',
          maxConnections: 10,
          bodyIdleMs: 5_000,
          log: silentLogger,
          onClosed: () => {},
        },
      },
    );
    try {
      const body = await new Promise<string>((resolve, reject) => {
        // The chain is checked against the inline certificate; its name is not 127.0.0.1.
        get(url, { ca: crt, checkServerIdentity: () => undefined }, (res) => {
          let s = '';
          res.on('data', (d) => (s += d));
          res.on('end', () => resolve(s));
        }).on('error', reject);
      });
      assert.equal(body, 'ok');
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});
