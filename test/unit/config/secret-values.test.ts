// Issue 8 hole 9: a config error (and so a failed reload's log line) never prints a value
// that may be key material: `${file:key.pem}` where a path belongs, PEM from `${env:…}`.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeKeyPair } from '../../../src/cli/keys.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { ConfigError, PurserError } from '../../../src/core/errors.js';
import { loadSigningKey } from '../../../src/token/keys.js';
import { tempDir, writeFile } from '../support.js';

/** The lines of a PEM's base64 body (what must never appear in a message). */
const bodyLines = (pem: string) =>
  pem
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('-----'))
    .map((l) => l.slice(0, 24));

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('no error');
}

function assertNoKeyMaterial(message: string, pem: string) {
  assert.doesNotMatch(message, /BEGIN|PRIVATE KEY/);
  for (const l of bodyLines(pem)) assert.ok(!message.includes(l), `message echoes ${l}: ${message}`);
}

describe('config errors do not print key material', () => {
  const t = tempDir('purser-secret-values-');
  let pem = '';
  let n = 0;
  const config = (tokenYaml: string, extra = '') =>
    writeFile(
      t.dir,
      `c${n++}.yml`,
      `token:\n  issuer: i\n  service: s\n${tokenYaml}users: { a: { password: b } }\nacl: [{ match: {}, actions: [pull] }]\n${extra}`,
    );

  before(async () => {
    const k = await writeKeyPair(t.dir, 'ES256');
    pem = readFileSync(k.keyPath, 'utf8');
    writeFileSync(join(t.dir, 'bad.pem'), pem.replace(/\n[^\n]{10}\n-----END/, '\n-----END'));
    writeFileSync(join(t.dir, 'bare.b64'), bodyLines(pem).join(''));
  });
  after(() => t.cleanup());

  for (const [what, ref] of [
    ['a valid PEM', 'token.key'],
    ['a broken PEM', 'bad.pem'],
    ['a bare base64 key', 'bare.b64'],
  ] as const) {
    test(`token.key: \${file:…} of ${what} is refused naming token.key, without the value`, () => {
      const e = refusal(() => loadConfigFile(config(`  key: \${file:${ref}}\n`)));
      assert.equal(e.path, 'token.key');
      assert.match(e.message, /expected a file path/);
      assertNoKeyMaterial(e.message, readFileSync(join(t.dir, ref), 'utf8'));
    });
  }

  test('token.keys[1].key and tls.key are checked the same way', () => {
    const e = refusal(() =>
      loadConfigFile(config('  keys:\n    - key: token.key\n    - key: ${file:token.key}\n')),
    );
    assert.equal(e.path, 'token.keys[1].key');
    assertNoKeyMaterial(e.message, pem);
    const f = refusal(() =>
      loadConfigFile(config('  key: token.key\n', 'tls: { cert: token.crt, key: "${file:token.key}" }\n')),
    );
    assert.equal(f.path, 'tls.key');
    assertNoKeyMaterial(f.message, pem);
  });

  test('PEM from ${env:…} where a path belongs is refused without the value; a path from env is fine', () => {
    process.env.PURSER_UNIT_PEM = pem;
    process.env.PURSER_UNIT_KEY_PATH = 'token.key';
    try {
      const e = refusal(() => loadConfigFile(config('  key: ${env:PURSER_UNIT_PEM}\n')));
      assert.equal(e.path, 'token.key');
      assertNoKeyMaterial(e.message, pem);
      const c = loadConfigFile(config('  key: ${env:PURSER_UNIT_KEY_PATH}\n'));
      assert.equal(c.token.keys[0]!.key, join(t.dir, 'token.key'));
    } finally {
      delete process.env.PURSER_UNIT_PEM;
      delete process.env.PURSER_UNIT_KEY_PATH;
    }
  });

  test('other values in messages (proxy.service, an issuer URL) are not shown when they look like keys', () => {
    process.env.PURSER_UNIT_PEM = pem;
    try {
      const e = refusal(() =>
        loadConfigFile(
          config(
            '  key: token.key\n',
            'proxy: { listen: "127.0.0.1:0", upstream: "http://127.0.0.1:5000", service: "${env:PURSER_UNIT_PEM}" }\n',
          ),
        ),
      );
      assert.equal(e.path, 'proxy.service');
      assertNoKeyMaterial(e.message, pem);
      const f = refusal(() =>
        loadConfigFile(
          config(
            '  key: token.key\n',
            'providers: [{ name: ci, issuer: "http://x${env:PURSER_UNIT_PEM}", audience: a }]\n',
          ),
        ),
      );
      assert.equal(f.path, 'providers[0].issuer');
      assertNoKeyMaterial(f.message, pem);
    } finally {
      delete process.env.PURSER_UNIT_PEM;
    }
  });

  test('loadSigningKey does not print a key-shaped path', async () => {
    await assert.rejects(
      () => loadSigningKey(pem, undefined),
      (e: unknown) => e instanceof PurserError && !e.message.includes(bodyLines(pem)[0]!),
    );
  });
});
