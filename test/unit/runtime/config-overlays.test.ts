// Config from Secrets (issue 10 part 3): each Secret's `config` merged over the file in name
// order (maps merge, lists and scalars replace, null removes), and a refusal names the
// Secret that causes it and the key at fault.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { writeKeyPair } from '../../../src/cli/keys.js';
import { mergeConfig, mergeConfigs } from '../../../src/config/merge.js';
import { ConfigError } from '../../../src/core/errors.js';
import {
  blameOverlay,
  type ConfigOverlay,
  loadConfigSecretsSource,
  loadLayeredConfig,
  MAX_OVERLAY_BYTES,
  overlayAtFault,
} from '../../../src/runtime/config-overlays.js';
import { buildApp } from '../../../src/server/app.js';
import { Metrics } from '../../../src/server/metrics.js';
import { silentLogger } from '../../../src/util/log.js';
import { cheapHash, tempDir, writeFile } from '../support.js';

const secret = (name: string, yaml: string | undefined): ConfigOverlay => ({
  kind: 'secret',
  name: `purser/${name}`,
  yaml,
});

describe('mergeConfig', () => {
  test('maps merge key by key; lists and scalars replace; null removes a key', () => {
    const base = {
      users: { alice: 'h1', bob: 'h2' },
      acl: [{ actions: ['pull'] }, { actions: [] }],
      token: { issuer: 'i', expiresIn: 300 },
    };
    const out = mergeConfig(base, {
      users: { carol: 'h3', bob: null },
      acl: [{ actions: ['push'] }],
      token: { expiresIn: 600 },
    });
    assert.deepEqual(out, {
      users: { alice: 'h1', carol: 'h3' },
      acl: [{ actions: ['push'] }],
      token: { issuer: 'i', expiresIn: 600 },
    });
    // The inputs are left alone.
    assert.deepEqual(base.users, { alice: 'h1', bob: 'h2' });
  });

  test('a mapping over a scalar (or a scalar over a mapping) replaces it', () => {
    assert.deepEqual(mergeConfig({ audit: { stdout: true } }, { audit: 'x' }), { audit: 'x' });
    assert.deepEqual(mergeConfig({ a: 'x' }, { a: { b: 1 } }), { a: { b: 1 } });
  });

  test('later overlays win; __proto__ is an ordinary key and no prototype is touched', () => {
    const evil = JSON.parse('{"users": {"__proto__": {"polluted": 1}}}') as Record<string, unknown>;
    const out = mergeConfigs({ users: {} }, [{ users: { a: '1' } }, { users: { a: '2' } }, evil]);
    assert.equal((out.users as Record<string, unknown>).a, '2');
    assert.ok(Object.hasOwn(out.users as object, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('loadLayeredConfig and blameOverlay', () => {
  const t = tempDir('purser-overlays-');
  let file = '';
  let n = 0;
  const hash = cheapHash('pw');
  const withFile = (text: string) => {
    file = writeFile(t.dir, `c${n++}.yml`, text);
    return file;
  };

  before(async () => {
    await writeKeyPair(t.dir, 'ES256');
    withFile(
      `token: { issuer: i, service: s, key: token.key }\nusers: { alice: "${hash}" }\nacl: [{ match: {}, actions: [pull] }]\nkubernetes: { configSecrets: { namespace: purser } }\n`,
    );
  });
  after(() => t.cleanup());

  test('Secrets merge in the order given (by name) over the file', () => {
    const c = loadLayeredConfig(file, [
      secret('a-users', `users: { bob: "${hash}" }\n`),
      secret('b-more', `users: { carol: "${hash}", alice: null }\ntoken: { expiresIn: 900 }\n`),
    ]);
    assert.deepEqual(Object.keys(c.users).sort(), ['bob', 'carol']);
    assert.equal(c.token.expiresIn, 900);
    assert.equal(c.token.issuer, 'i');
    assert.equal(c.file, file);
  });

  test('bad YAML names the Secret and the line; the value is not echoed', () => {
    const bad = secret('broken', 'users:\n  bob: "secret-value\n  x: [');
    assert.throws(
      () => loadLayeredConfig(file, [bad]),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.file, 'secret purser/broken');
        assert.match(e.message, /^secret purser\/broken: line \d+, column \d+: YAML: /);
        assert.doesNotMatch(e.message, /secret-value/);
        assert.equal(overlayAtFault(e, [bad]), bad);
        return true;
      },
    );
  });

  test('a Secret without a config key, one too large, and one setting kubernetes are refused naming it', () => {
    for (const [o, key] of [
      [secret('nokey', undefined), 'data.config'],
      [secret('huge', `users: {}\n#${'x'.repeat(MAX_OVERLAY_BYTES)}\n`), 'data.config'],
      [secret('loop', 'kubernetes: { configSecrets: { namespace: other } }\n'), 'kubernetes'],
    ] as const) {
      assert.throws(
        () => loadLayeredConfig(file, [o]),
        (e: unknown) => e instanceof ConfigError && e.file === `secret ${o.name}` && e.path === key,
      );
    }
  });

  test('a schema error from the second Secret is restated as that Secret with the key at fault', async () => {
    const layers = [
      secret('a-ok', `users: { bob: "${hash}" }\n`),
      secret('b-bad', 'users: { carol: "not-a-hash" }\n'),
    ];
    let caught: unknown;
    try {
      loadLayeredConfig(file, layers);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof ConfigError);
    const e = await blameOverlay(caught, file, layers);
    assert.ok(e instanceof ConfigError);
    assert.equal(e.file, 'secret purser/b-bad');
    assert.equal(e.path, 'users.carol');
    assert.equal(overlayAtFault(e, layers)?.name, 'purser/b-bad');
  });

  test('a compile refusal (CEL) inside buildApp is blamed on the Secret that brought it', async () => {
    const layers = [
      secret('a-ok', `users: { bob: "${hash}" }\n`),
      secret('b-cel', 'acl: [{ match: {}, when: "identity.account ==", actions: [pull] }]\n'),
      secret('c-ok', 'token: { expiresIn: 900 }\n'),
    ];
    const config = loadLayeredConfig(file, layers);
    let caught: unknown;
    try {
      await buildApp(config, silentLogger, new Metrics());
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof ConfigError, String(caught));
    assert.equal(caught.file, file);
    const e = await blameOverlay(caught, file, layers);
    assert.ok(e instanceof ConfigError);
    assert.equal(e.file, 'secret purser/b-cel');
    assert.equal(e.path, 'acl[0].when');
  });

  test('a refusal of the file itself stays the file’s', async () => {
    const f = withFile(
      'token: { issuer: i, service: s, key: missing.key }\nacl: [{ match: {}, actions: [pull] }]\n',
    );
    const layers = [secret('a-ok', `users: { bob: "${hash}" }\n`)];
    let caught: unknown;
    try {
      await buildApp(loadLayeredConfig(f, layers), silentLogger, new Metrics());
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof Error);
    assert.equal(await blameOverlay(caught, f, layers), caught);
  });

  test('a Secret may complete a file that is not valid alone (the signing key comes from it)', () => {
    const f = withFile(`token: { issuer: i, service: s }\nacl: [{ match: {}, actions: [pull] }]\n`);
    const c = loadLayeredConfig(f, [secret('keys', 'token: { key: token.key }\n')]);
    assert.equal(c.token.keys.length, 1);
  });
});

test('without @purser/kube, kubernetes.configSecrets is a startup error naming the key and the package', async () => {
  await assert.rejects(
    loadConfigSecretsSource(
      '/etc/purser.yml',
      { namespace: 'n', labelSelector: 'a=b' },
      '@purser/kube-absent/x',
    ),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.path === 'kubernetes.configSecrets' &&
      /needs the @purser\/kube package/.test(e.message),
  );
});
