// Issue 8 hole 9: a config error (and so a failed reload's log line) never prints a value
// that may be key material: `${file:key.pem}` where a path belongs, PEM from `${env:…}`.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeKeyPair } from '../../../src/cli/keys.js';
import { compileConfig } from '../../../src/compile/compile-config.js';
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
    // The body cut in half: still PEM-shaped, no longer a key.
    const lines = pem.split('\n');
    writeFileSync(join(t.dir, 'bad.pem'), [lines[0], lines[1]!.slice(0, 20), ...lines.slice(-2)].join('\n'));
    writeFileSync(join(t.dir, 'bare.b64'), bodyLines(pem).join(''));
  });
  after(() => t.cleanup());

  test('token.key: ${file:…} of a bare base64 key is refused naming token.key, without the value', () => {
    const e = refusal(() => loadConfigFile(config('  key: ${file:bare.b64}\n')));
    assert.equal(e.path, 'token.key');
    assert.match(e.message, /expected a file path/);
    assertNoKeyMaterial(e.message, readFileSync(join(t.dir, 'bare.b64'), 'utf8'));
  });

  // Since config from Secrets (issue 10 part 3), keys naming a PEM file take the PEM itself.
  test('token.key: ${file:…} of a valid PEM is the key inline; a broken one is refused as "inline PEM", without the value', async () => {
    const c = loadConfigFile(config('  key: ${file:token.key}\n'));
    assert.equal(c.token.keys[0]!.key, pem.replace(/\r?\n$/, ''));
    const [k] = (await compileConfig(c)).signingKeys;
    assert.equal(k!.alg, 'ES256');
    const broken = loadConfigFile(config('  key: ${file:bad.pem}\n'));
    await assert.rejects(
      () => compileConfig(broken),
      (e: unknown) => {
        assert.ok(e instanceof PurserError && e.code === 'INVALID_KEY', String(e));
        assert.match(e.message, /^inline PEM: /);
        assertNoKeyMaterial(e.message, readFileSync(join(t.dir, 'bad.pem'), 'utf8'));
        return true;
      },
    );
  });

  test('htpasswd (a path only) still refuses ${file:…} of a PEM, naming it without the value', () => {
    const e = refusal(() => loadConfigFile(config('  key: token.key\n', 'htpasswd: "${file:token.key}"\n')));
    assert.equal(e.path, 'htpasswd');
    assertNoKeyMaterial(e.message, pem);
    const f = refusal(() =>
      loadConfigFile(config('  keys:\n    - key: token.key\n    - key: ${file:bare.b64}\n')),
    );
    assert.equal(f.path, 'token.keys[1].key');
    assertNoKeyMaterial(f.message, pem);
  });

  test('PEM from ${env:…} is taken inline; a path from env is a path; a PEM not at the start is refused', () => {
    process.env.PURSER_UNIT_PEM = pem;
    process.env.PURSER_UNIT_KEY_PATH = 'token.key';
    try {
      const c = loadConfigFile(config('  key: ${env:PURSER_UNIT_PEM}\n'));
      assert.equal(c.token.keys[0]!.key, pem);
      const d = loadConfigFile(config('  key: ${env:PURSER_UNIT_KEY_PATH}\n'));
      assert.equal(d.token.keys[0]!.key, join(t.dir, 'token.key'));
      const e = refusal(() => loadConfigFile(config('  key: x${env:PURSER_UNIT_PEM}\n')));
      assert.equal(e.path, 'token.key');
      assertNoKeyMaterial(e.message, pem);
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

  test('loadSigningKey does not print a key-shaped path or a broken inline key', async () => {
    await assert.rejects(
      () => loadSigningKey(`x${pem}`, undefined),
      (e: unknown) => e instanceof PurserError && !e.message.includes(bodyLines(pem)[0]!),
    );
    const bad = readFileSync(join(t.dir, 'bad.pem'), 'utf8');
    await assert.rejects(
      () => loadSigningKey(bad, undefined),
      (e: unknown) => e instanceof PurserError && !bodyLines(bad).some((l) => e.message.includes(l)),
    );
  });
});
