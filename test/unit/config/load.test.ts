import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { buildConfig, loadConfigFile } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';
import { Secret } from '../../../src/core/secret.js';
import { cheapHash, tempDir, writeFile } from '../support.js';

const HASH = '$2y$10$abcdefghijklmnopqrstuu5Oe7S6pYzZ0W7h3oNnG1KxQmJtVbW2a'; // shape only
const MIN = `token:\n  issuer: purser\n  service: registry.local\n  key: keys/token.key\nacl:\n  - match: { account: "" }\n    actions: [pull]\n`;

function configError(fn: () => unknown, ...includes: string[]): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, 'INVALID_CONFIG');
  for (const inc of includes)
    assert.ok(caught.message.includes(inc), `${JSON.stringify(caught.message)} lacks ${JSON.stringify(inc)}`);
  return caught;
}

describe('loadConfigFile', () => {
  const t = tempDir();
  let n = 0;
  const file = (text: string) => writeFile(t.dir, `c${n++}.yml`, text);
  after(() => t.cleanup());

  test('a minimal file: defaults applied, key path resolved against the config dir, frozen', () => {
    const f = file(MIN);
    const c = loadConfigFile(f);
    assert.equal(c.file, f);
    assert.equal(c.baseDir, t.dir);
    assert.equal(c.listen, '127.0.0.1:5001');
    assert.deepEqual(c.token.services, ['registry.local']);
    assert.deepEqual(c.token.keys, [{ key: join(t.dir, 'keys/token.key'), certificate: undefined }]);
    assert.equal(c.token.keyId, 'libtrust');
    assert.equal(c.token.expiresIn, 300);
    assert.equal(c.auth.anonymous, true);
    assert.equal(c.auth.failedLogins.max, 10);
    assert.deepEqual(c.users, {});
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.token) && Object.isFrozen(c.acl[0]));
  });

  test('a relative config path is resolved; paths are relative to the config file, not the cwd', () => {
    const sub = join(t.dir, 'sub');
    writeFile(t.dir, 'sub.keep', '');
    mkdirSync(sub, { recursive: true });
    const f = writeFile(
      sub,
      'c.yml',
      `${MIN}htpasswd: ../users.htpasswd\ntls: { cert: tls/c.pem, key: /abs/k.pem }\n`.replace(
        'keys/token.key',
        'token.key',
      ),
    );
    const c = loadConfigFile(f);
    assert.equal(c.token.keys[0]?.key, join(sub, 'token.key'));
    assert.equal(c.htpasswd, join(t.dir, 'users.htpasswd'));
    assert.deepEqual(c.tls, { cert: join(sub, 'tls/c.pem'), key: '/abs/k.pem', minVersion: 'TLSv1.2' });
  });

  test('unknown key at the top level names the file and the key', () => {
    const f = file(`${MIN}lsiten: 1.2.3.4:5\n`);
    configError(() => loadConfigFile(f), f, 'lsiten', 'unknown key');
  });

  test('a typo token.keyid names the file, token and "keyid"', () => {
    const f = file(MIN.replace('  key: keys/token.key\n', '  key: keys/token.key\n  keyid: thumbprint\n'));
    const e = configError(() => loadConfigFile(f), f, 'token', '"keyid"');
    assert.equal(e.path, 'token');
    assert.equal(e.message, `${f}: token: unknown key "keyid"`);
  });

  test('unknown key deep inside (acl[0].match, auth.failedLogins)', () => {
    const f1 = file(MIN.replace('{ account: "" }', '{ acount: "" }'));
    configError(() => loadConfigFile(f1), f1, 'acl[0].match', 'acount');
    const f2 = file(`${MIN}auth:\n  failedLogins: { max: 3, window: 10 }\n`);
    configError(() => loadConfigFile(f2), f2, 'auth.failedLogins', 'window');
  });

  test('bad types name the key', () => {
    const cases: [string, string][] = [
      [`${MIN}listen: 5001\n`, 'listen'],
      [`${MIN}listen: "localhost"\n`, 'listen'],
      [
        MIN.replace('  key: keys/token.key\n', '  key: keys/token.key\n  expiresIn: "300"\n'),
        'token.expiresIn',
      ],
      [MIN.replace('  key: keys/token.key\n', '  key: keys/token.key\n  expiresIn: 30\n'), 'token.expiresIn'],
      [MIN.replace('  key: keys/token.key\n', '  key: keys/token.key\n  keyId: kid\n'), 'token.keyId'],
      [MIN.replace('[pull]', '[pull, fly]'), 'acl[0].actions[1]'],
      [MIN.replace('[pull]', 'pull'), 'acl[0].actions'],
      [`${MIN}auth: { anonymous: "yes" }\n`, 'auth.anonymous'],
      [`${MIN}users:\n  alice: 12\n`, 'users.alice'],
      [`${MIN}users:\n  "al ice": { password: x }\n`, 'users'],
      [MIN.replace(/acl:[\s\S]*/, 'acl: []\n'), 'acl'],
      [MIN.replace('  service: registry.local\n', ''), 'token.service'],
      [`${MIN}limits: { responseBatch: 0 }\n`, 'limits.responseBatch'],
      [`${MIN}limits: { responseBatch: 257 }\n`, 'limits.responseBatch'],
      [`${MIN}limits: { responseBatch: 1.5 }\n`, 'limits.responseBatch'],
    ];
    for (const [text, key] of cases) {
      const f = file(text);
      const e = configError(() => loadConfigFile(f), f, key);
      assert.ok(e.path.startsWith(key), `${e.path} vs ${key} (${e.message})`);
    }
  });

  test('a YAML syntax error is a ConfigError naming the file', () => {
    const f = file('token:\n  issuer: purser\n  service: [a, b\nacl: x\n');
    configError(() => loadConfigFile(f), f, 'YAML');
  });

  test('duplicate keys are refused', () => {
    const f = file(`${MIN}listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n`);
    configError(() => loadConfigFile(f), f, 'YAML', 'unique');
  });

  // Regression (was: no line/column because of prettyErrors: false; fixed in 2ee9ea3).
  test('a YAML syntax error names line and column', () => {
    const f = file('token:\n  issuer: purser\n  service: [a, b\nacl: x\n');
    const e = configError(() => loadConfigFile(f), f, 'line', 'YAML');
    assert.match(e.message, /line \d+, column \d+/);
  });

  test('duplicate keys are refused with their position', () => {
    const f = file(`${MIN}listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n`);
    const e = configError(() => loadConfigFile(f), f, 'YAML');
    assert.match(e.message, /line 9, column 1/);
    assert.match(e.message, /unique/i);
  });

  test('a file that is not a mapping, and a missing file', () => {
    const f = file('- a\n- b\n');
    configError(() => loadConfigFile(f), f, 'mapping');
    const g = file('');
    configError(() => loadConfigFile(g), g, 'mapping');
    const missing = join(t.dir, 'missing.yml');
    configError(() => loadConfigFile(missing), missing, 'ENOENT');
  });

  test('a YAML alias bomb is a ConfigError naming the file', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [i, n] of ['b', 'c', 'd', 'e', 'f', 'g'].entries()) {
      const prev = i === 0 ? 'a' : ['b', 'c', 'd', 'e', 'f', 'g'][i - 1];
      levels.push(`${n}: &${n} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const f = file(`${levels.join('\n')}\n${MIN}`);
    const t0 = Date.now();
    configError(() => loadConfigFile(f), f);
    assert.ok(Date.now() - t0 < 2000, 'refused quickly');
  });

  test('YAML merge keys (<<) are not special', () => {
    const f = file(`base: &b { account: "" }\n${MIN}`);
    configError(() => loadConfigFile(f), f, 'base');
  });

  test('${env:NAME} and ${file:PATH} expansion (file relative to the config, one trailing newline stripped)', () => {
    process.env.PURSER_UNIT_ISSUER = 'issuer-from-env';
    process.env.PURSER_UNIT_BOB = 'b0b';
    writeFile(t.dir, 'carol.pw', 'c4rol\n');
    writeFile(t.dir, 'dave.pw', 'dave\n\n');
    const f = file(
      MIN.replace('issuer: purser', 'issuer: "${env:PURSER_UNIT_ISSUER}"') +
        'users:\n  bob: { password: "${env:PURSER_UNIT_BOB}" }\n  carol: { password: "${file:carol.pw}" }\n  dave: { password: "${file:dave.pw}" }\n' +
        '  erin: { password: "pre-${env:PURSER_UNIT_BOB}-post" }\n',
    );
    const c = loadConfigFile(f);
    assert.equal(c.token.issuer, 'issuer-from-env');
    const pw = (u: string) => {
      const e = c.users[u];
      assert.ok(e && 'password' in e);
      assert.ok(e.password instanceof Secret);
      return e.password.reveal();
    };
    assert.equal(pw('bob'), 'b0b');
    assert.equal(pw('carol'), 'c4rol');
    assert.equal(pw('dave'), 'dave\n');
    assert.equal(pw('erin'), 'pre-b0b-post');
    assert.ok(!JSON.stringify(c.users).includes('b0b'), 'passwords are wrapped in Secret');
    delete process.env.PURSER_UNIT_ISSUER;
    delete process.env.PURSER_UNIT_BOB;
  });

  test('an expanded value is not expanded again', () => {
    process.env.PURSER_UNIT_SNEAKY = '${file:/etc/hostname}';
    const f = file(MIN.replace('issuer: purser', 'issuer: "${env:PURSER_UNIT_SNEAKY}"'));
    assert.equal(loadConfigFile(f).token.issuer, '${file:/etc/hostname}');
    delete process.env.PURSER_UNIT_SNEAKY;
  });

  test('a missing env var and a missing file are named, with the key', () => {
    delete process.env.PURSER_UNIT_MISSING;
    const f = file(`${MIN}users:\n  bob: { password: "\${env:PURSER_UNIT_MISSING}" }\n`);
    const e = configError(() => loadConfigFile(f), f, 'PURSER_UNIT_MISSING', 'users.bob.password');
    assert.equal(e.path, 'users.bob.password');
    const g = file(`${MIN}users:\n  bob: { password: "\${file:nope.pw}" }\n`);
    configError(() => loadConfigFile(g), g, join(t.dir, 'nope.pw'), 'ENOENT', 'users.bob.password');
  });

  test('users: a non-bcrypt string is refused naming users.NAME; bcrypt and {password} are fine', () => {
    const f = file(`${MIN}users:\n  alice: "hunter2"\n`);
    const e = configError(() => loadConfigFile(f), f, 'users.alice', 'bcrypt');
    assert.ok(!e.message.includes('hunter2'), 'does not echo the value');
    const h = cheapHash('pw');
    const g = file(
      `${MIN}users:\n  alice: "${h}"\n  al2: "${h.replace('$2b$', '$2y$')}"\n  al3: "${HASH}"\n`,
    );
    const c = loadConfigFile(g);
    assert.deepEqual(c.users.alice, { hash: h, groups: [], labels: {} });
    for (const bad of ['$apr1$abc$def', '{SHA}abc=', '$2b$10$short', `${h}x`]) {
      const b = file(`${MIN}users:\n  zed: "${bad}"\n`);
      configError(() => loadConfigFile(b), b, 'users.zed');
    }
  });

  test('a plaintext password may not be empty', () => {
    const f = file(`${MIN}users:\n  bob: { password: "" }\n`);
    configError(() => loadConfigFile(f), f, 'users.bob');
  });
});

describe('buildConfig', () => {
  const base = () => ({
    token: { issuer: 'i', service: ['a', 'b'], key: 'k.pem' },
    acl: [{ actions: ['pull'] }],
  });

  test('services list, default match, no file', () => {
    const c = buildConfig(base(), undefined, '/base');
    assert.deepEqual(c.token.services, ['a', 'b']);
    assert.deepEqual(c.acl[0]?.match, {});
    assert.equal(c.file, undefined);
    assert.equal(c.token.keys[0]?.key, '/base/k.pem');
  });

  test('errors without a file say <config>', () => {
    configError(() => buildConfig({ ...base(), nope: 1 }, undefined, '/'), '<config>: ', 'nope');
  });

  test('key and keys both -> error naming token', () => {
    const e = configError(
      () => buildConfig({ ...base(), token: { ...base().token, keys: [{ key: 'a' }] } }, 'f.yml', '/'),
      'f.yml',
      'token',
    );
    assert.equal(e.path, 'token');
  });

  test('neither key nor keys -> error naming token.key', () => {
    const { key: _k, ...token } = base().token;
    const e = configError(() => buildConfig({ ...base(), token }, 'f.yml', '/'), 'token.key');
    assert.equal(e.path, 'token.key');
  });

  test('certificate without key -> error', () => {
    const { key: _k, ...token } = base().token;
    configError(
      () =>
        buildConfig({ ...base(), token: { ...token, certificate: 'c', keys: [{ key: 'a' }] } }, 'f.yml', '/'),
      'token.certificate',
    );
  });

  test('keyId x5c without certificate -> error; with it -> ok', () => {
    const e = configError(
      () => buildConfig({ ...base(), token: { ...base().token, keyId: 'x5c' } }, 'f.yml', '/'),
      'token.certificate',
      'x5c',
    );
    assert.equal(e.path, 'token.certificate');
    configError(
      () =>
        buildConfig(
          {
            ...base(),
            token: {
              issuer: 'i',
              service: 's',
              keys: [{ key: 'a' }, { key: 'b', certificate: 'c' }],
              keyId: 'x5c',
            },
          },
          'f.yml',
          '/',
        ),
      'token.keys[0].certificate',
    );
    const ok = buildConfig(
      { ...base(), token: { ...base().token, keyId: 'x5c', certificate: 'c.pem' } },
      'f.yml',
      '/d',
    );
    assert.equal(ok.token.keys[0]?.certificate, '/d/c.pem');
  });

  test('keys[] paths are each resolved', () => {
    const c = buildConfig(
      {
        ...base(),
        token: {
          issuer: 'i',
          service: 's',
          keys: [{ key: 'a.pem', certificate: 'a.crt' }, { key: '/x/b.pem' }],
        },
      },
      undefined,
      '/d',
    );
    assert.deepEqual(c.token.keys, [
      { key: '/d/a.pem', certificate: '/d/a.crt' },
      { key: '/x/b.pem', certificate: undefined },
    ]);
  });

  test('listen accepts host:port forms', () => {
    for (const l of ['127.0.0.1:5001', ':5001', '[::1]:0', 'localhost:80']) {
      assert.equal(buildConfig({ ...base(), listen: l }, undefined, '/').listen, l);
    }
  });

  // Regression (was accepted by \d{1,5}; fixed in 2ee9ea3).
  test('listen with a port above 65535 is a config error', () => {
    configError(() => buildConfig({ ...base(), listen: '127.0.0.1:65536' }, 'f.yml', '/'), 'listen');
    assert.equal(
      buildConfig({ ...base(), listen: '127.0.0.1:65535' }, 'f.yml', '/').listen,
      '127.0.0.1:65535',
    );
    configError(() => buildConfig({ ...base(), listen: '127.0.0.1:70000' }, 'f.yml', '/'), 'listen');
  });
});
