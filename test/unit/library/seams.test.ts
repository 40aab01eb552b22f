// The seams of issue 9 parts 2 and 3, driven through createPurser over HTTP: a custom
// authenticator's refresh hooks, authorizers chained with the ACL, and the state stores
// (a lockout counted in a custom store, a revoked refresh token, a replayed CI JWT).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  type Authenticator,
  type Authorizer,
  createLogger,
  createPurser,
  generateSigningKeyPair,
  type Identity,
  MemoryReplayStore,
  MemoryThrottleStore,
  type Purser,
  type ThrottlePolicy,
} from '../../../src/index.js';
import { TestIssuer } from '../../helpers/issuer.js';
import { basic, claimsOf, form, type Served, serve } from './support.js';

const quiet = createLogger({ write: () => {} });
const SERVICE = 'registry.test';

interface Row {
  password: string;
  role: string;
  /** Bumped when the password changes: bound into refresh tokens. */
  version: number;
}

/** An app's own users, with every optional hook of the Authenticator seam. */
function teamUsers(rows: Map<string, Row>): Authenticator {
  const identity = (name: string, row: Row): Identity => ({
    account: name,
    provider: 'team',
    labels: { role: row.role },
    claims: {},
  });
  return {
    kind: 'team-users',
    async authenticate({ username, password }) {
      const row = rows.get(username);
      if (!row) return { outcome: 'no-match' };
      if (row.password !== password.reveal()) return { outcome: 'rejected', reason: 'wrong password' };
      return { outcome: 'authenticated', identity: identity(username, row) };
    },
    refreshLifetime: (id) => (id.provider === 'team' ? 600 : 0),
    refreshBinding: (id, secret) =>
      createHmac('sha256', secret)
        .update(`${id.account}:${rows.get(id.account)?.version}`)
        .digest('base64url'),
    restore(saved) {
      if (saved.provider !== 'team') return { outcome: 'no-match' };
      const row = rows.get(saved.account);
      if (!row) return { outcome: 'rejected', reason: 'no such user any more' };
      // The identity as the table says now: a changed role applies at the next refresh.
      return { outcome: 'authenticated', identity: identity(saved.account, row) };
    },
  };
}

/** Admins push; about anyone else it has nothing to say (the ACL decides). */
const adminsPush: Authorizer = {
  authorize: ({ identity, scopes }) =>
    scopes.map((s) =>
      identity.labels.role === 'admin'
        ? { requested: s, granted: s.actions, rule: undefined, explanation: 'admin' }
        : { requested: s, granted: undefined },
    ),
};

const accessOf = (token: string) => claimsOf(token).access as { name: string; actions: string[] }[];

describe('createPurser seams: a custom authenticator with refresh tokens, a chained authorizer', () => {
  const rows = new Map<string, Row>([['alice', { password: 'alice-pw', role: 'dev', version: 1 }]]);
  let purser: Purser;
  let app: Served;

  before(async () => {
    purser = await createPurser({
      issuer: 'seams-test',
      services: SERVICE,
      signingKeys: [generateSigningKeyPair('ES256').privateKey],
      authenticators: [teamUsers(rows)],
      authorizer: adminsPush,
      acl: [{ match: { account: '*' }, actions: ['pull'] }],
      logger: quiet,
    });
    app = await serve((req, res) => purser.handler(req, res));
  });
  after(async () => {
    await purser.close();
    await app.close();
  });

  const tokenPost = (fields: Record<string, string>) =>
    fetch(`${app.origin}/auth/token`, form({ service: SERVICE, client_id: 'test', ...fields }));

  test('password grant with access_type=offline, then the refresh grant, over HTTP', async () => {
    const scope = 'repository:alice/app:pull,push';
    const login = await tokenPost({
      grant_type: 'password',
      username: 'alice',
      password: 'alice-pw',
      access_type: 'offline',
      scope,
    });
    assert.equal(login.status, 200);
    const body = (await login.json()) as { access_token: string; refresh_token?: string };
    assert.ok(body.refresh_token, 'the custom authenticator gets a refresh token');
    assert.equal(claimsOf(body.refresh_token).ath, 'team-users', 'it names the authenticator');
    assert.equal(Number(claimsOf(body.refresh_token).exp) - Number(claimsOf(body.refresh_token).iat), 600);
    // A dev: the authorizer says nothing, the ACL after it grants pull.
    assert.deepEqual(accessOf(body.access_token), [
      { type: 'repository', name: 'alice/app', actions: ['pull'] },
    ]);

    const refresh = () =>
      tokenPost({ grant_type: 'refresh_token', refresh_token: body.refresh_token!, scope });
    const r1 = await refresh();
    assert.equal(r1.status, 200);
    assert.deepEqual(accessOf(((await r1.json()) as { access_token: string }).access_token)[0]!.actions, [
      'pull',
    ]);

    // restore() returns the identity as it is now: the new role applies at refresh.
    rows.get('alice')!.role = 'admin';
    const r2 = await refresh();
    assert.equal(r2.status, 200);
    assert.deepEqual(accessOf(((await r2.json()) as { access_token: string }).access_token)[0]!.actions, [
      'pull',
      'push',
    ]);

    // The binding changed (a new password): the refresh token is refused.
    rows.get('alice')!.version = 2;
    const r3 = await refresh();
    assert.equal(r3.status, 401);
    assert.match(await r3.text(), /no longer valid/);
  });

  test('a revoked refresh token is refused at the refresh grant, by jti and by account', async () => {
    rows.set('bob', { password: 'bob-pw', role: 'dev', version: 1 });
    const login = async () => {
      const r = await tokenPost({
        grant_type: 'password',
        username: 'bob',
        password: 'bob-pw',
        access_type: 'offline',
      });
      return ((await r.json()) as { refresh_token: string }).refresh_token;
    };
    const refresh = (rt: string) => tokenPost({ grant_type: 'refresh_token', refresh_token: rt });
    const first = await login();
    const second = await login();
    const c = claimsOf(first);
    await purser.revoke({ jti: String(c.jti), expiresAt: Number(c.exp) });
    const refused = await refresh(first);
    assert.equal(refused.status, 401);
    assert.match(await refused.text(), /revoked/);
    assert.equal((await refresh(second)).status, 200, 'another token of the same account');
    await purser.revoke({
      account: 'bob',
      provider: 'team',
      before: Math.floor(Date.now() / 1000),
      expiresAt: Math.floor(Date.now() / 1000) + 600,
    });
    assert.equal((await refresh(second)).status, 401, 'every token of the account issued before');
  });

  test('issue() with offline: the first authenticator with a refresh lifetime issues it', async () => {
    const team: Identity = { account: 'carol', provider: 'team', labels: {}, claims: {} };
    const out = await purser.issue(team, [], { offline: true });
    assert.equal(claimsOf(out.refresh_token!).ath, 'team-users');
    const other: Identity = { account: 'dave', provider: 'elsewhere', labels: {}, claims: {} };
    assert.equal((await purser.issue(other, [], { offline: true })).refresh_token, undefined);
  });
});

test('close() calls close() of the authenticators given, once', async () => {
  let closed = 0;
  const purser = await createPurser({
    issuer: 'seams-test',
    services: SERVICE,
    signingKeys: [generateSigningKeyPair('ES256').privateKey],
    authenticators: [{ ...teamUsers(new Map()), close: () => void closed++ }],
    acl: [{ match: { account: '*' }, actions: ['pull'] }],
    logger: quiet,
  });
  await purser.reload({
    token: { issuer: 'seams-test', service: SERVICE },
    acl: [{ match: {}, actions: [] }],
  });
  assert.equal(closed, 0, 'a reload keeps the authenticators given');
  await purser.close();
  assert.equal(closed, 1);
});

describe('createPurser seams: authorizerOrder after-acl', () => {
  test('the custom authorizer sees only the scopes no ACL rule matched', async () => {
    const seen: string[] = [];
    const fallback: Authorizer = {
      authorize: ({ scopes }) =>
        scopes.map((s) => {
          seen.push(s.name);
          return { requested: s, granted: ['pull'], rule: undefined, explanation: 'fallback' };
        }),
    };
    const purser = await createPurser({
      issuer: 'seams-test',
      services: SERVICE,
      signingKeys: [generateSigningKeyPair('ES256').privateKey],
      authorizer: fallback,
      authorizerOrder: 'after-acl',
      acl: [
        { match: { name: 'open/**' }, actions: ['pull', 'push'] },
        { match: { name: 'closed/**' }, actions: [] },
      ],
      logger: quiet,
    });
    try {
      const id: Identity = { account: 'x', provider: 'team', labels: {}, claims: {} };
      const out = await purser.issue(id, [
        'repository:open/a:pull,push',
        'repository:closed/b:pull',
        'repository:other/c:pull,push',
      ]);
      assert.deepEqual(accessOf(out.token), [
        { type: 'repository', name: 'open/a', actions: ['pull', 'push'] },
        { type: 'repository', name: 'other/c', actions: ['pull'] },
      ]);
      assert.deepEqual(seen, ['other/c'], 'a rule that grants nothing is a decision too');
    } finally {
      await purser.close();
    }
  });
});

describe('createPurser seams: state stores', () => {
  test('a lockout is counted in the store given, under keyed digests, and survives a reload', async () => {
    const calls: { op: string; key: string }[] = [];
    const inner = new MemoryThrottleStore();
    const throttle = {
      retryAfter: (key: string, p: ThrottlePolicy) => inner.retryAfter(key, p),
      remaining: (key: string, p: ThrottlePolicy) => inner.remaining(key, p),
      fail: (key: string, p: ThrottlePolicy) => {
        calls.push({ op: 'fail', key });
        return inner.fail(key, p);
      },
      succeed: (key: string) => {
        calls.push({ op: 'succeed', key });
        return inner.succeed(key);
      },
    };
    const config = {
      token: { issuer: 'seams-test', service: SERVICE },
      users: { erin: { password: 'erin-pw' } },
      auth: { failedLogins: { max: 2, windowSeconds: 60 } },
      acl: [{ match: { account: '*' }, actions: ['pull'] }],
    };
    const purser = await createPurser({
      config,
      signingKeys: [generateSigningKeyPair('ES256').privateKey],
      stores: { throttle },
      logger: quiet,
    });
    const app = await serve((req, res) => purser.handler(req, res));
    try {
      const get = (pw: string) =>
        fetch(`${app.origin}/token?service=${SERVICE}`, { headers: { authorization: basic('erin', pw) } });
      assert.equal((await get('wrong')).status, 401);
      assert.equal((await get('wrong')).status, 401);
      const locked = await get('erin-pw');
      assert.equal(locked.status, 429, 'the right password is refused while locked out');
      assert.equal(calls.filter((c) => c.op === 'fail').length, 2);
      for (const c of calls) {
        assert.match(c.key, /^[A-Za-z0-9_-]{22}$/, 'a keyed digest');
        assert.ok(!c.key.includes('erin'));
      }
      await purser.reload(config);
      assert.equal((await get('erin-pw')).status, 429, 'the store outlives the reload');
    } finally {
      await purser.close();
      await app.close();
    }
  });

  describe('replay: once', () => {
    let issuer: TestIssuer;
    let purser: Purser;
    let app: Served;
    const replay = new MemoryReplayStore();

    before(async () => {
      issuer = await TestIssuer.start();
      const provider = { issuer: issuer.url, account: 'claims.repository', refreshTokenLifetime: 600 };
      purser = await createPurser({
        config: {
          token: { issuer: 'seams-test', service: SERVICE },
          providers: [
            { name: 'ci-once', audience: 'once', replay: 'once', ...provider },
            { name: 'ci-many', audience: 'many', ...provider },
          ],
          acl: [{ match: { account: '*' }, actions: ['pull'] }],
        },
        signingKeys: [generateSigningKeyPair('ES256').privateKey],
        stores: { replay },
        logger: quiet,
      });
      app = await serve((req, res) => purser.handler(req, res));
    });
    after(async () => {
      await purser?.close();
      await app?.close();
      await issuer?.close();
    });

    const login = (name: string, jwt: string) =>
      fetch(`${app.origin}/token?service=${SERVICE}&offline_token=true`, {
        headers: { authorization: basic(name, jwt) },
      });

    test('a replayed CI JWT is refused for the opted-in provider, in the store given', async () => {
      const jwt = await issuer.github({ aud: 'once', repository: 'acme/app' });
      const first = await login('ci-once', jwt);
      assert.equal(first.status, 200);
      const { refresh_token } = (await first.json()) as { refresh_token: string };
      assert.ok(refresh_token, 'log in once, then refresh');
      assert.equal(replay.size, 1);
      const again = await login('ci-once', jwt);
      assert.equal(again.status, 401);
      assert.match(await again.text(), /already used/);
      // Also when the provider is chosen by the token's issuer and audience.
      assert.equal((await login('someone', jwt)).status, 401);
      assert.equal((await login('ci-once', await issuer.github({ aud: 'once' }))).status, 200, 'a new JWT');
      const refreshed = await fetch(
        `${app.origin}/token`,
        form({ grant_type: 'refresh_token', refresh_token, service: SERVICE, client_id: 'test' }),
      );
      assert.equal(refreshed.status, 200, 'the refresh token carries on without the JWT');
    });

    test('a token without jti is refused when replay is once', async () => {
      const jwt = await issuer.github({ aud: 'once', jti: undefined });
      const r = await login('ci-once', jwt);
      assert.equal(r.status, 401);
      assert.match(await r.text(), /jti/);
    });

    test('a provider without replay: once accepts the same JWT again', async () => {
      const jwt = await issuer.github({ aud: 'many' });
      assert.equal((await login('ci-many', jwt)).status, 200);
      assert.equal((await login('ci-many', jwt)).status, 200);
    });
  });
});
