// Load-time refusals and shapes of the identity keys: `ldap:`, static users with groups and
// labels, `groupsFile`. Every refusal names the key at fault.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileConfig } from '../../../src/compile/compile-config.js';
import { buildConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';
import { cheapHash, configObject, type KeyFiles, makeKeys, tempDir, writeFile } from '../support.js';

let keys: KeyFiles & { cleanup: () => void };
const t = tempDir();
before(async () => {
  keys = await makeKeys();
});
after(() => {
  keys.cleanup();
  t.cleanup();
});

const LDAP = {
  url: 'ldaps://ldap.example.org',
  bindDn: 'cn=svc,dc=example,dc=org',
  bindPassword: 'svc-pw',
  userSearch: { base: 'ou=people,dc=example,dc=org', filter: '(uid={username})' },
};

async function compile(extra: Record<string, unknown>) {
  return compileConfig(buildConfig(configObject(keys, extra), undefined, t.dir));
}

async function refused(extra: Record<string, unknown>, key: string, ...includes: string[]): Promise<void> {
  let caught: unknown;
  try {
    await compile(extra);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${String(caught)}`);
  assert.ok(caught.message.includes(key), `${JSON.stringify(caught.message)} does not name ${key}`);
  for (const inc of includes)
    assert.ok(caught.message.includes(inc), `${JSON.stringify(caught.message)} lacks ${JSON.stringify(inc)}`);
  assert.ok(!caught.message.includes('svc-pw'), 'the service password is never shown');
}

describe('ldap: refusals name the key', () => {
  test('a valid block compiles; the password is a Secret', async () => {
    const c = await compile({ ldap: LDAP });
    assert.equal(String(c.config.ldap?.bindPassword), '***');
    assert.equal(c.config.ldap?.timeoutMs, 5000);
  });
  test('StartTLS with ldaps://', () => refused({ ldap: { ...LDAP, startTLS: true } }, 'ldap.startTLS'));
  test('both modes, or neither', async () => {
    await refused({ ldap: { ...LDAP, userDn: 'uid={username},dc=x' } }, 'ldap.userDn', 'one of them');
    const { userSearch: _u, ...none } = LDAP;
    await refused({ ldap: none }, 'ldap.userDn', 'one of them');
  });
  test('a template without {username}', async () => {
    const { userSearch: _u, ...bind } = LDAP;
    await refused({ ldap: { ...bind, userDn: 'uid=alice,dc=x' } }, 'ldap.userDn', '{username}');
    await refused(
      { ldap: { ...LDAP, userSearch: { base: 'dc=x', filter: '(objectClass=person)' } } },
      'ldap.userSearch.filter',
      '{username}',
    );
  });
  test('a filter that does not parse', async () => {
    await refused(
      { ldap: { ...LDAP, userSearch: { base: 'dc=x', filter: '(&(uid={username})' } } },
      'ldap.userSearch.filter',
      'RFC 4515',
    );
    await refused(
      { ldap: { ...LDAP, userSearch: { base: 'dc=x', filter: 'uid={username}' } } },
      'ldap.userSearch.filter',
      'parentheses',
    );
    await refused(
      { ldap: { ...LDAP, groups: { search: { base: 'dc=x', filter: '(objectClass=groupOfNames)' } } } },
      'ldap.groups.search.filter',
      '{dn} or {username}',
    );
  });
  test('a service account without its password (an anonymous bind), or the reverse', async () => {
    const { bindPassword: _p, ...noPw } = LDAP;
    await refused({ ldap: noPw }, 'ldap.bindPassword', 'anonymous');
    const { bindDn: _d, ...noDn } = LDAP;
    await refused({ ldap: noDn }, 'ldap.bindDn');
  });
  test('a URL with a path, an unknown key, an unreadable CA', async () => {
    await refused({ ldap: { ...LDAP, url: 'ldaps://h/dc=x' } }, 'ldap.url');
    await refused({ ldap: { ...LDAP, url: 'http://h' } }, 'ldap.url');
    await refused({ ldap: { ...LDAP, tls: true } }, 'ldap', 'unknown key "tls"');
    await refused({ ldap: { ...LDAP, ca: 'missing-ca.pem' } }, 'ldap.ca', 'ENOENT');
  });
  test('an ldap block alone is a way to authenticate', async () => {
    await compile({ ldap: LDAP, auth: { anonymous: false } });
  });
});

describe('static users: groups and labels', () => {
  const hash = cheapHash('pw');
  test('the object form carries groups and labels; the string form none', async () => {
    const c = await compile({
      users: {
        alice: { hash, groups: ['admins', 'dev', 'admins'], labels: { team: 'platform' } },
        bob: hash,
        carol: { password: 'pw', groups: ['dev'] },
      },
    });
    assert.deepEqual(c.users.get('alice')?.groups, ['admins', 'dev']);
    assert.deepEqual(c.users.get('alice')?.labels, { team: 'platform' });
    assert.deepEqual(c.users.get('bob')?.groups, []);
    assert.deepEqual(c.users.get('carol')?.groups, ['dev']);
    assert.deepEqual(c.plaintextUsers, ['carol']);
  });
  test('hash or password, one of them; a bad group or label name', async () => {
    await refused({ users: { alice: { groups: ['x'] } } }, 'users.alice', 'hash or password');
    await refused({ users: { alice: { hash, password: 'pw' } } }, 'users.alice', 'hash or password');
    await refused({ users: { alice: { hash: 'nope' } } }, 'users.alice.hash', 'bcrypt');
    await refused({ users: { alice: { hash, groups: ['a b'] } } }, 'users.alice.groups[0]');
    await refused({ users: { alice: { hash, labels: { 'no-dash': 'x' } } } }, 'users.alice.labels');
  });
  test('a groups file adds to htpasswd and users: entries', async () => {
    const htpasswd = writeFile(t.dir, 'users.htpasswd', `dave:${hash}\n`);
    const groupsFile = writeFile(
      t.dir,
      'groups',
      '# Apache AuthGroupFile\nadmins: dave alice\n\ndev:\talice\ndev: dave\n',
    );
    const c = await compile({ htpasswd, groupsFile, users: { alice: { hash, groups: ['dev', 'ops'] } } });
    assert.deepEqual(c.users.get('dave')?.groups, ['admins', 'dev']);
    assert.deepEqual(c.users.get('alice')?.groups, ['dev', 'ops', 'admins']);
  });
  test('a groups file naming an unknown user, or a malformed line', async () => {
    const unknown = writeFile(t.dir, 'g1', 'admins: nobody\n');
    await refused({ users: { alice: hash }, groupsFile: unknown }, 'g1', '"nobody"');
    const bad = writeFile(t.dir, 'g2', 'admins alice\n');
    await refused({ users: { alice: hash }, groupsFile: bad }, 'line 1', 'group: user1');
  });
});
