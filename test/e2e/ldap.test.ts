// The LDAP authenticator against a real slapd (Debian's OpenLDAP, started by the test with its
// own database, memberof and ppolicy overlays and a test CA), through a real Purser, and
// skopeo pushing through it to the real registry.
import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk, NO_ACCESS } from '../helpers/assert.js';
import { decodeJwt, tokenRequest } from '../helpers/issuer.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage } from '../helpers/oci.js';
import { generateKeys, type Purser, startPurser } from '../helpers/purser.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import {
  GROUPS,
  LDAP_USERS,
  PEOPLE,
  SERVICE_DN,
  SERVICE_PW,
  type Slapd,
  startSlapd,
} from '../helpers/slapd.js';
import { ISSUER, SERVICE, type Stack, startStack } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const TIMEOUT = 180_000;
const PUSH = 'repository:team/app:pull,push';

const ACL = [
  { match: { group: 'pushers', type: 'repository', name: 'team/**' }, actions: ['pull', 'push'] },
  { match: { group: 'readers', type: 'repository', name: 'team/**' }, actions: ['pull'] },
  { when: "'admins' in identity.groups", match: { type: 'repository', name: 'admin/**' }, actions: ['*'] },
];

const user = (name: keyof typeof LDAP_USERS) => ({ username: name, password: LDAP_USERS[name] });

/** The actions granted on the first scope, or the HTTP status when refused. */
async function granted(url: string, creds: { username: string; password: string }, scope = PUSH) {
  const r = await tokenRequest(url, creds, { service: SERVICE, scope });
  if (r.status !== 200) return { status: r.status, body: r.body, actions: undefined };
  const access = decodeJwt(String(r.body.token)).payload.access as { actions: string[] }[];
  return { status: 200, body: r.body, actions: access[0]?.actions.slice().sort() ?? [] };
}

async function failedLogins(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^purser_failed_logins_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

describe('LDAP through Purser against a real slapd', { timeout: TIMEOUT }, () => {
  let slapd: Slapd;
  let stack: Stack | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage;
  const dirs: string[] = [];
  const others: Purser[] = [];
  const logs = () => [
    { name: 'slapd', logs: () => '' },
    ...(stack?.logSources() ?? []),
    ...others.map((p, i) => ({ name: `purser ${i}`, logs: p.logs })),
  ];

  /** Search then bind as the service account, StartTLS with the test CA, groups from memberOf. */
  const searchConfig = (over: Record<string, unknown> = {}) => ({
    url: slapd.url,
    startTLS: true,
    ca: slapd.ca.caFile,
    bindDn: SERVICE_DN,
    bindPassword: SERVICE_PW,
    userSearch: { base: PEOPLE, filter: '(&(objectClass=inetOrgPerson)(uid={username}))' },
    groups: { attribute: 'memberOf', nameAttribute: 'cn' },
    connectTimeoutMs: 1000,
    timeoutMs: 1000,
    ...over,
  });

  /** Another Purser (no registry) with this ldap block. */
  async function purserWith(
    ldap: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ): Promise<Purser> {
    const dir = makeTempDir('purser-ldap-');
    dirs.push(dir);
    const keys = await generateKeys(dir, 'ES256');
    const p = await startPurser(
      {
        token: { issuer: ISSUER, service: SERVICE, key: keys.key, certificate: keys.crt },
        ldap,
        acl: ACL,
        ...extra,
      },
      { dir },
    );
    others.push(p);
    return p;
  }

  before(async () => {
    slapd = await startSlapd();
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir);
    stack = await startStack({
      users: {
        sam: { password: 'sam-pw', groups: ['pushers'] },
        ada: { password: 'ada-pw', groups: ['admins'], labels: { team: 'platform' } },
        una: { password: 'una-pw' },
      },
      acl: ACL,
      extra: { ldap: searchConfig(), auth: { failedLogins: { max: 3, windowSeconds: 600 } } },
    });
  });
  after(async () => {
    await Promise.allSettled([stack?.stop(), ...others.map((p) => p.stop())]);
    await slapd?.stop();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  test(
    'a member of pushers pushes with skopeo; a member of readers only pulls; the nested member pushes',
    withLogs(logs, async () => {
      const s = sk!;
      const ref = (repo: string) => `docker://${stack!.host}/${repo}`;
      assertOk(await s.copy(img.ref, ref('team/app:v1'), { dest: user('alice') }), 'alice (pushers) pushes');
      assertOk(await s.inspect(ref('team/app:v1'), user('bob')), 'bob (readers) pulls');
      assertFails(await s.copy(img.ref, ref('team/app:v2'), { dest: user('bob') }), NO_ACCESS, 'bob pushes');
      // carol is in seniors, a member of pushers: memberOf of the group is followed.
      assertOk(await s.copy(img.ref, ref('team/app:v3'), { dest: user('carol') }), 'carol (nested) pushes');
      const carol = await granted(stack!.purser.url, user('carol'));
      assert.deepEqual(carol.actions, ['pull', 'push']);
    }),
  );

  test(
    'static users: groups match `match: { group }`, and CEL sees identity.groups',
    withLogs(logs, async () => {
      const url = stack!.purser.url;
      assert.deepEqual((await granted(url, { username: 'sam', password: 'sam-pw' })).actions, [
        'pull',
        'push',
      ]);
      const admin = 'repository:admin/tool:pull,push,delete';
      assert.deepEqual((await granted(url, { username: 'ada', password: 'ada-pw' }, admin)).actions, [
        'delete',
        'pull',
        'push',
      ]);
      assert.deepEqual((await granted(url, { username: 'ada', password: 'ada-pw' })).actions, []);
      assert.deepEqual((await granted(url, { username: 'una', password: 'una-pw' })).actions, []);
      assert.deepEqual((await granted(url, { username: 'una', password: 'una-pw' }, admin)).actions, []);
    }),
  );

  test(
    'locked account, wrong password, empty password and a filter injection: 401, each counted',
    withLogs(logs, async () => {
      const url = stack!.purser.url;
      const before = await failedLogins(url);
      const dave = await granted(url, user('dave'));
      assert.equal(dave.status, 401, 'dave is locked (ppolicy pwdAccountLockedTime)');
      assert.equal(
        (await granted(url, { username: 'bob', password: 'not-bobs' })).status,
        401,
        'wrong password',
      );
      // An empty password is an anonymous bind, which slapd accepts: Purser must never send it.
      assert.equal((await granted(url, { username: 'alice', password: '' })).status, 401, 'empty password');
      // `*)(uid=*` unescaped would match every entry; escaped it matches none.
      const inj = await granted(url, { username: '*)(uid=*', password: LDAP_USERS.alice });
      assert.equal(inj.status, 401, 'filter injection');
      assert.equal(
        (await granted(url, { username: '*', password: LDAP_USERS.alice })).status,
        401,
        'wildcard',
      );
      assert.equal(await failedLogins(url), before + 5);
    }),
  );

  test(
    'bind mode over LDAPS with the test CA, groups from a group search with nesting',
    withLogs(logs, async () => {
      const p = await purserWith({
        url: slapd.ldapsUrl,
        ca: slapd.ca.caFile,
        userDn: `uid={username},${PEOPLE}`,
        groups: { search: { base: GROUPS, filter: '(&(objectClass=groupOfNames)(member={dn}))' } },
      });
      assert.deepEqual((await granted(p.url, user('carol'))).actions, ['pull', 'push'], 'nested by search');
      assert.deepEqual((await granted(p.url, user('bob'))).actions, ['pull']);
      assert.equal((await granted(p.url, user('dave'))).status, 401, 'locked');
      // In bind mode the username goes into a DN: `,` must not add an RDN.
      assert.equal((await granted(p.url, { username: 'alice,ou=people', password: 'x' })).status, 401);
    }),
  );

  test(
    'the service account keeps one connection: N logins open N + 1 connections, not 2N',
    withLogs(logs, async () => {
      // A TCP forwarder in front of slapd that counts the connections Purser opens.
      let opened = 0;
      const port = Number(new URL(slapd.url).port);
      const fwd: Server = createServer((c) => {
        opened++;
        const up = connect(port, '127.0.0.1');
        c.pipe(up).pipe(c);
        c.on('error', () => up.destroy());
        up.on('error', () => c.destroy());
      });
      await new Promise<void>((r) => fwd.listen(0, '127.0.0.1', r));
      try {
        const addr = fwd.address() as { port: number };
        const p = await purserWith(searchConfig({ url: `ldap://127.0.0.1:${addr.port}` }), {
          auth: { cacheSeconds: 0 },
        });
        for (let i = 0; i < 4; i++) assert.deepEqual((await granted(p.url, user('bob'))).actions, ['pull']);
        assert.equal(opened, 5, 'one service connection, one per user bind');
      } finally {
        fwd.close();
      }
    }),
  );

  test(
    'a certificate not signed by the configured CA is refused (503, never a login)',
    withLogs(logs, async () => {
      const ldaps = await purserWith({ url: slapd.ldapsUrl, userDn: `uid={username},${PEOPLE}` });
      const t = Date.now();
      const r1 = await granted(ldaps.url, user('alice'));
      assert.equal(r1.status, 503, 'LDAPS without the test CA');
      assert.ok(Date.now() - t < 3_000, `refused in ${Date.now() - t} ms`);
      assert.match(JSON.stringify(r1.body), /UNAVAILABLE/);
      const starttls = await purserWith(searchConfig({ ca: undefined }));
      assert.equal((await granted(starttls.url, user('alice'))).status, 503, 'StartTLS without the test CA');
      // The operator's log line says why (the caller sees only that the directory is unavailable).
      await ldaps.proc.waitForLine(/bind: .*(certificate|self[- ]signed)/i, 5_000);
      await starttls.proc.waitForLine(/StartTLS: .*(certificate|self[- ]signed)/i, 5_000);
    }),
  );

  test(
    'the directory down or hanging: 503 with UNAVAILABLE, not counted as failed logins; a cached login still works',
    withLogs(logs, async () => {
      const url = stack!.purser.url;
      // alice logged in above: her success is in the login cache.
      const before = await failedLogins(url);
      slapd.pause();
      try {
        const t = Date.now();
        const hung = await granted(url, user('erin'));
        assert.equal(hung.status, 503, 'a hanging directory');
        assert.ok(Date.now() - t < 5_000, `answered in ${Date.now() - t} ms (timeoutMs: 1000)`);
      } finally {
        slapd.resume();
      }
      await slapd.kill();
      try {
        // More attempts than failedLogins.max (3): none is a 429.
        for (let i = 0; i < 5; i++) {
          const r = await granted(url, user('erin'));
          assert.equal(r.status, 503, `attempt ${i + 1}`);
          assert.match(JSON.stringify(r.body), /UNAVAILABLE.*LDAP directory cannot be reached/);
        }
        assert.deepEqual((await granted(url, user('alice'))).actions, ['pull', 'push'], 'cached login');
        assert.equal(await failedLogins(url), before, 'an outage is no failed login');
      } finally {
        await slapd.restart();
      }
      // The service connection broke with the server: a new one is made.
      assert.deepEqual((await granted(url, user('erin'))).actions, ['pull'], 'after the restart');
    }),
  );
});
