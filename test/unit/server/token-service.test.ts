import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Authenticator, AuthnResult, Credentials } from '../../../src/authn/authenticator.js';
import { StaticUsers } from '../../../src/authn/static-users.js';
import { Acl, compileRules } from '../../../src/authz/acl.js';
import type { RuleData } from '../../../src/config/schema.js';
import type { Identity } from '../../../src/core/identity.js';
import { Secret } from '../../../src/core/secret.js';
import { parseScopes } from '../../../src/protocol/scope.js';
import type { TokenRequest } from '../../../src/protocol/token-request.js';
import { TokenService, type TokenServiceOptions } from '../../../src/server/token-service.js';
import { MemoryThrottleStore } from '../../../src/state/throttle.js';
import { fingerprintKey } from '../../../src/token/fingerprint-key.js';
import { KeyRing } from '../../../src/token/keyring.js';
import { loadSigningKey } from '../../../src/token/keys.js';
import { issueRefreshToken } from '../../../src/token/refresh.js';
import { cheapHash, decodeJwt, makeKeys, purserError } from '../support.js';

class FakeAuthn implements Authenticator {
  calls = 0;
  constructor(
    readonly kind: string,
    private readonly answer: (c: Credentials) => AuthnResult | Promise<AuthnResult>,
  ) {}
  async authenticate(c: Credentials): Promise<AuthnResult> {
    this.calls++;
    return this.answer(c);
  }
}

const ci: Identity = {
  account: 'acme/app',
  provider: 'github',
  labels: { org: 'acme' },
  claims: { repository: 'acme/app' },
};

function req(partial: Partial<TokenRequest>): TokenRequest {
  return {
    grant: 'get',
    service: undefined,
    scopes: [],
    account: undefined,
    clientId: undefined,
    offline: false,
    credentials: undefined,
    refreshToken: undefined,
    ...partial,
  };
}
const pw = (username: string, password: string) => ({ username, password: new Secret(password) });

describe('TokenService', () => {
  let ring: KeyRing;
  before(async () => {
    const k = await makeKeys();
    ring = new KeyRing([await loadSigningKey(k.keyPath, k.crtPath)], {
      issuer: 'purser-test',
      keyId: 'libtrust',
      expiresIn: 120,
    });
    k.cleanup();
  });

  function service(
    { refreshLifetime = 3600, ...o }: Partial<TokenServiceOptions> & { refreshLifetime?: number } = {},
    rules: RuleData[] = [{ match: {}, actions: ['pull'] } as RuleData],
  ) {
    const failed: string[] = [];
    const staticUsers = new StaticUsers(new Map([['alice', { hash: cheapHash('pw') }]]), 60, {
      refreshLifetime,
    });
    const s = new TokenService({
      issuer: 'purser-test',
      services: ['registry.test', 'other.test'],
      keyring: ring,
      authenticators: [staticUsers],
      authorizer: new Acl(compileRules(rules, undefined)),
      anonymous: true,
      throttlePolicy: { max: 2, windowSeconds: 60 },
      imitateCheck: () => staticUsers.imitateCheck(),
      onFailedLogin: (k) => failed.push(k),
      ...o,
    });
    return { s, failed };
  }

  test('resolveService: default first, known ones, unknown refused', () => {
    const { s } = service();
    assert.equal(s.resolveService(undefined), 'registry.test');
    assert.equal(s.resolveService(''), 'registry.test');
    assert.equal(s.resolveService('other.test'), 'other.test');
    assert.throws(() => s.resolveService('x'), purserError('UNKNOWN_SERVICE', '"x"', 'registry.test'));
  });

  test('the first authenticator that does not say no-match decides', async () => {
    const a = new FakeAuthn('first', () => ({ outcome: 'no-match' }));
    const b = new FakeAuthn('second', () => ({ outcome: 'authenticated', identity: ci }));
    const c = new FakeAuthn('third', () => ({ outcome: 'rejected', reason: 'never reached' }));
    const { s } = service({ authenticators: [a, b, c] });
    assert.deepEqual(await s.authenticate(pw('x', 'y'), '1.1.1.1'), ci);
    assert.deepEqual([a.calls, b.calls, c.calls], [1, 1, 0]);
  });

  test('rejected: UNAUTHORIZED with the reason, counted under the authenticator kind', async () => {
    const { s, failed } = service({
      authenticators: [new FakeAuthn('oidc', () => ({ outcome: 'rejected', reason: 'token expired' }))],
    });
    await assert.rejects(
      s.authenticate(pw('x', 'y'), '1.1.1.1'),
      purserError('UNAUTHORIZED', 'token expired'),
    );
    assert.deepEqual(failed, ['oidc']);
  });

  test('nobody claims the credentials: UNAUTHORIZED, counted as unknown', async () => {
    const { s, failed } = service();
    await assert.rejects(
      s.authenticate(pw('ghost', 'y'), '1.1.1.1'),
      purserError('UNAUTHORIZED', 'invalid username or password'),
    );
    assert.deepEqual(failed, ['unknown']);
  });

  test('an authenticator that throws (issuer down) is not a 401 and does not count as a failure', async () => {
    const limiter = new MemoryThrottleStore();
    const { s } = service({
      throttle: limiter,
      throttlePolicy: { max: 1, windowSeconds: 60 },
      authenticators: [new FakeAuthn('oidc', () => Promise.reject(new Error('issuer unreachable')))],
    });
    await assert.rejects(s.authenticate(pw('x', 'y'), '1.1.1.1'), /issuer unreachable/);
    // With max 1, a counted failure would make this one TOO_MANY_ATTEMPTS.
    await assert.rejects(s.authenticate(pw('x', 'y'), '1.1.1.1'), /issuer unreachable/);
    assert.equal(limiter.size, 0);
  });

  test('the failed-login limit is per address and username', async () => {
    const { s, failed } = service();
    for (let i = 0; i < 2; i++)
      await assert.rejects(s.authenticate(pw('alice', 'bad'), '10.0.0.1'), purserError('UNAUTHORIZED'));
    await assert.rejects(s.authenticate(pw('alice', 'pw'), '10.0.0.1'), (e: unknown) => {
      assert.ok(purserError('TOO_MANY_ATTEMPTS')(e));
      assert.ok((e as { retryAfter?: number }).retryAfter! > 0);
      return true;
    });
    assert.equal((await s.authenticate(pw('alice', 'pw'), '10.0.0.2')).account, 'alice', 'another address');
    assert.deepEqual(failed, ['static', 'static', 'rate_limited']);
  });

  test('a successful login asks the throttle store once; after a failure it also forgets it', async () => {
    const calls: string[] = [];
    class Counting extends MemoryThrottleStore {
      override check(...a: Parameters<MemoryThrottleStore['check']>) {
        calls.push('check');
        return super.check(...a);
      }
      override retryAfter(...a: Parameters<MemoryThrottleStore['retryAfter']>) {
        calls.push('retryAfter');
        return super.retryAfter(...a);
      }
      override succeed(...a: Parameters<MemoryThrottleStore['succeed']>) {
        calls.push('succeed');
        return super.succeed(...a);
      }
      override fail(...a: Parameters<MemoryThrottleStore['fail']>) {
        calls.push('fail');
        return super.fail(...a);
      }
    }
    const { s } = service({ throttle: new Counting() });
    await s.authenticate(pw('alice', 'pw'), '10.0.0.9');
    assert.deepEqual(calls.splice(0), ['check']);
    await assert.rejects(s.authenticate(pw('alice', 'bad'), '10.0.0.9'), purserError('UNAUTHORIZED'));
    await s.authenticate(pw('alice', 'pw'), '10.0.0.9');
    assert.deepEqual(calls.splice(0), ['check', 'fail', 'check', 'succeed']);
    // Forgotten: max is 2, so two more wrong passwords are checked (not 429) before the limit.
    for (let i = 0; i < 2; i++)
      await assert.rejects(s.authenticate(pw('alice', 'bad'), '10.0.0.9'), purserError('UNAUTHORIZED'));
    await assert.rejects(s.authenticate(pw('alice', 'pw'), '10.0.0.9'), purserError('TOO_MANY_ATTEMPTS'));
  });

  test('concurrent guesses cannot get past the failed-login limit', async () => {
    const { s } = service();
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => s.authenticate(pw('alice', `guess-${i}`), '10.6.6.6')),
    );
    const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'ok'));
    const evaluated = codes.filter((c) => c === 'UNAUTHORIZED').length;
    assert.ok(evaluated <= 2, `${evaluated} of 30 guesses were checked with max=2: ${JSON.stringify(codes)}`);
  });

  test('credentials an authenticator has verified skip the limit on checks at once, not the lockout', async () => {
    // A stand-in: the right password is known-good (a login cache hit); each check takes 30 ms.
    let running = 0;
    let most = 0;
    const make = (withVerified: boolean): Authenticator => ({
      kind: 'cached',
      ...(withVerified ? { verified: async (c: Credentials) => c.password.reveal() === 'pw' } : {}),
      async authenticate(c) {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 30));
        running--;
        return c.password.reveal() === 'pw'
          ? {
              outcome: 'authenticated',
              identity: { account: c.username, provider: 'static', labels: {}, claims: {} },
            }
          : { outcome: 'rejected', reason: 'wrong' };
      },
    });
    const burst = (s: TokenService, password: string, n: number) =>
      Promise.allSettled(Array.from({ length: n }, () => s.authenticate(pw('bob', password), '10.9.9.9')));
    // Without the hook a burst of right passwords runs at most max (2) at once…
    const plain = service({ authenticators: [make(false)] }).s;
    assert.ok((await burst(plain, 'pw', 8)).every((r) => r.status === 'fulfilled'));
    assert.equal(most, 2);
    // …with it, all at once; wrong passwords are still gated to max.
    most = 0;
    const { s } = service({ authenticators: [make(true)] });
    assert.ok((await burst(s, 'pw', 8)).every((r) => r.status === 'fulfilled'));
    assert.equal(most, 8);
    most = 0;
    const wrong = await burst(s, 'guess', 8);
    assert.ok(most <= 2, `${most} wrong passwords were checked at once with max=2`);
    assert.ok(
      wrong.some(
        (r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'TOO_MANY_ATTEMPTS',
      ),
    );
    // Locked out now: a verified password is refused too (the lockout is not the gate).
    await assert.rejects(s.authenticate(pw('bob', 'pw'), '10.9.9.9'), purserError('TOO_MANY_ATTEMPTS'));
  });

  test('StaticUsers.verified: true only for a password that passed the bcrypt check and is cached', async () => {
    const users = new StaticUsers(new Map([['alice', { hash: cheapHash('pw') }]]), 60);
    assert.equal(await users.verified(pw('alice', 'pw')), false, 'before any check');
    const ctx = { ip: '10.1.1.1' };
    assert.equal((await users.authenticate(pw('alice', 'pw'), ctx)).outcome, 'authenticated');
    assert.equal(await users.verified(pw('alice', 'pw')), true);
    assert.equal(await users.verified(pw('alice', 'other')), false);
    assert.equal(await users.verified(pw('nobody', 'pw')), false);
    // The id is kept with the credentials object, but only for that username and password.
    const reused = pw('alice', 'pw');
    assert.equal(await users.verified(reused), true);
    reused.password = new Secret('other');
    assert.equal(await users.verified(reused), false);
    assert.equal((await users.authenticate(reused, ctx)).outcome, 'rejected');
  });

  test('refused workload JWTs from one address do not lock out other JWTs with the same username', async () => {
    // A stand-in for a provider: accepts exactly one JWT-shaped password, and counts failures
    // per token (as OidcAuthenticator does) rather than per username.
    const good = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJnb29kIn0.c2ln';
    const ci: Authenticator = {
      kind: 'ci',
      throttleKey: (c, ip) => (c.username === 'github' ? `jwt\0${ip}\0${c.password.reveal()}` : undefined),
      async authenticate(c) {
        if (c.username !== 'github') return { outcome: 'no-match' };
        return c.password.reveal() === good
          ? {
              outcome: 'authenticated',
              identity: { account: 'acme/app', provider: 'github', labels: {}, claims: {} },
            }
          : { outcome: 'rejected', reason: 'refused' };
      },
    };
    const { s } = service({ authenticators: [ci] });
    for (let i = 0; i < 5; i++) {
      const evil = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJldmlsJHtpfSJ9.${'x'.repeat(4 + i)}`;
      await assert.rejects(s.authenticate(pw('github', evil), '10.7.7.7'), purserError('UNAUTHORIZED'));
    }
    assert.equal((await s.authenticate(pw('github', good), '10.7.7.7')).account, 'acme/app');
  });

  test('JWT-shaped guesses at a static user still count against that user', async () => {
    const { s } = service();
    for (const g of ['aa.bb.cc', 'aa.bb.dd']) {
      await assert.rejects(s.authenticate(pw('alice', g), '10.8.8.8'), purserError('UNAUTHORIZED'));
    }
    await assert.rejects(
      s.authenticate(pw('alice', 'aa.bb.ee'), '10.8.8.8'),
      purserError('TOO_MANY_ATTEMPTS'),
    );
  });

  test('handle: anonymous, granted subset keeps class, response fields', async () => {
    const { s } = service({}, [
      { match: { name: 'a' }, actions: ['pull'] } as RuleData,
      { match: { name: 'p' }, actions: ['*'] } as RuleData,
    ]);
    const out = await s.handle(
      req({ scopes: parseScopes(['repository:a:pull,push repository(plugin):p:pull repository:z:pull']) }),
      '::1',
    );
    assert.equal(out.identity.provider, 'anonymous');
    assert.equal(out.service, 'registry.test');
    assert.equal(out.decisions.length, 3);
    assert.deepEqual(decodeJwt(out.response.token).payload.access, [
      { type: 'repository', name: 'a', actions: ['pull'] },
      { type: 'repository', class: 'plugin', name: 'p', actions: ['pull'] },
    ]);
    assert.equal(out.response.access_token, out.response.token);
    assert.equal(out.response.expires_in, 120);
    assert.equal(out.response.refresh_token, undefined);
  });

  test('anonymous disabled: UNAUTHORIZED', async () => {
    const { s } = service({ anonymous: false });
    await assert.rejects(s.handle(req({}), '::1'), purserError('UNAUTHORIZED', 'authentication required'));
  });

  test('unknown service is refused before any authentication', async () => {
    const a = new FakeAuthn('x', () => ({ outcome: 'authenticated', identity: ci }));
    const { s } = service({ authenticators: [a] });
    await assert.rejects(
      s.handle(req({ service: 'nope', credentials: pw('u', 'p') }), '::1'),
      purserError('UNKNOWN_SERVICE'),
    );
    assert.equal(a.calls, 0);
  });

  test('refreshLifetime 0: no refresh token even when asked', async () => {
    const { s } = service({ refreshLifetime: 0 });
    const out = await s.handle(req({ offline: true, credentials: pw('alice', 'pw') }), '::1');
    assert.equal(out.response.refresh_token, undefined);
  });

  test('static refresh token: lifetime, cfp bound, and the refresh grant restores the identity', async () => {
    const { s } = service();
    const login = await s.handle(req({ offline: true, credentials: pw('alice', 'pw') }), '::1');
    const rt = login.response.refresh_token;
    assert.ok(rt);
    const p = decodeJwt(rt).payload;
    assert.equal(Number(p.exp) - Number(p.iat), 3600);
    assert.equal(typeof p.cfp, 'string');
    const again = await s.handle(
      req({
        grant: 'refresh_token',
        refreshToken: new Secret(rt),
        offline: true,
        scopes: parseScopes(['repository:a:pull']),
      }),
      '::1',
    );
    assert.equal(again.identity.account, 'alice');
    assert.equal(again.response.refresh_token, undefined);
  });

  test('provider identities: the authenticator sets the lifetime; restore decides on refresh', async () => {
    let valid = true;
    const gh = new FakeAuthn('github', () => ({ outcome: 'authenticated', identity: ci }));
    Object.assign(gh, {
      refreshLifetime: (id: Identity) => (id.provider === 'github' ? 600 : 0),
      restore: (id: Identity): AuthnResult =>
        valid && id.provider === 'github' && id.claims.repository === 'acme/app'
          ? { outcome: 'authenticated', identity: id }
          : { outcome: 'rejected', reason: 'refresh token no longer valid: log in again' },
    });
    const { s } = service({ authenticators: [gh] });
    const login = await s.handle(req({ offline: true, credentials: pw('github', 'jwt') }), '::1');
    const rt = login.response.refresh_token!;
    const p = decodeJwt(rt).payload;
    assert.equal(Number(p.exp) - Number(p.iat), 600);
    assert.deepEqual(p.clm, { repository: 'acme/app' });
    assert.deepEqual(p.lbl, { org: 'acme' });
    assert.equal(p.ath, 'github', 'the refresh token names its authenticator');
    const refresh = () => s.handle(req({ grant: 'refresh_token', refreshToken: new Secret(rt) }), '::1');
    assert.deepEqual((await refresh()).identity, ci);
    valid = false;
    await assert.rejects(refresh(), purserError('UNAUTHORIZED', 'log in again'));
  });

  test('provider refresh without a restore hook is refused', async () => {
    const gh = new FakeAuthn('github', () => ({ outcome: 'authenticated', identity: ci }));
    Object.assign(gh, { refreshLifetime: () => 600 });
    const { s } = service({ authenticators: [gh] });
    const rt = (await s.handle(req({ offline: true, credentials: pw('github', 'jwt') }), '::1')).response
      .refresh_token!;
    await assert.rejects(
      s.handle(req({ grant: 'refresh_token', refreshToken: new Secret(rt) }), '::1'),
      purserError('UNAUTHORIZED'),
    );
  });

  test('a provider without a refresh lifetime gets no refresh token', async () => {
    const gh = new FakeAuthn('github', () => ({ outcome: 'authenticated', identity: ci }));
    const { s } = service({ authenticators: [gh] });
    assert.equal(
      (await s.handle(req({ offline: true, credentials: pw('github', 'jwt') }), '::1')).response
        .refresh_token,
      undefined,
    );
  });

  test('refresh tokens from before they named their authenticator stay valid (static and provider)', async () => {
    const gh = new FakeAuthn('github', () => ({ outcome: 'no-match' }));
    Object.assign(gh, {
      refreshLifetime: (id: Identity) => (id.provider === 'github' ? 600 : 0),
      restore: (id: Identity): AuthnResult =>
        id.provider === 'github' ? { outcome: 'authenticated', identity: id } : { outcome: 'no-match' },
    });
    const staticUsers = new StaticUsers(new Map([['alice', { hash: cheapHash('pw') }]]), 60, {
      refreshLifetime: 3600,
    });
    const { s } = service({ authenticators: [gh, staticUsers] });
    const refresh = (rt: string) =>
      s.handle(req({ grant: 'refresh_token', refreshToken: new Secret(rt) }), '::1');
    // Minted as the code before this change did: no `ath` claim.
    const cfp = staticUsers.credentialFingerprint('alice', fingerprintKey(ring.signer.key))!;
    const alice: Identity = { account: 'alice', provider: 'static', labels: {}, claims: {} };
    const old = issueRefreshToken(ring, 'purser-test', alice, { cfp }, 3600);
    assert.equal(decodeJwt(old).payload.ath, undefined);
    assert.equal((await refresh(old)).identity.account, 'alice');
    const oldCi = issueRefreshToken(ring, 'purser-test', ci, {}, 600);
    assert.deepEqual((await refresh(oldCi)).identity, ci);
    // A static token with a wrong fingerprint is still refused.
    const forged = issueRefreshToken(ring, 'purser-test', alice, { cfp: 'x'.repeat(22) }, 3600);
    await assert.rejects(refresh(forged), purserError('UNAUTHORIZED', 'password changed'));
  });

  test('a refresh token names its authenticator: another one of the chain cannot restore it', async () => {
    const restoredBy: string[] = [];
    const make = (kind: string) => {
      const a = new FakeAuthn(kind, () => ({ outcome: 'authenticated', identity: ci }));
      Object.assign(a, {
        refreshLifetime: () => 600,
        restore: (id: Identity): AuthnResult => {
          restoredBy.push(kind);
          return { outcome: 'authenticated', identity: id };
        },
      });
      return a;
    };
    const { s } = service({ authenticators: [make('first'), make('second')] });
    const rt = issueRefreshToken(ring, 'purser-test', ci, { ath: 'second' }, 600);
    await s.handle(req({ grant: 'refresh_token', refreshToken: new Secret(rt) }), '::1');
    assert.deepEqual(restoredBy, ['second']);
    const gone = issueRefreshToken(ring, 'purser-test', ci, { ath: 'removed' }, 600);
    await assert.rejects(
      s.handle(req({ grant: 'refresh_token', refreshToken: new Secret(gone) }), '::1'),
      purserError('UNAUTHORIZED', 'no longer valid'),
    );
  });

  test('the anonymous caller never gets a refresh token, whatever the authenticators say', async () => {
    const generous = new FakeAuthn('generous', () => ({ outcome: 'no-match' }));
    Object.assign(generous, { refreshLifetime: () => 600, restore: () => ({ outcome: 'no-match' }) });
    const { s } = service({ authenticators: [generous] });
    const out = await s.handle(req({ offline: true }), '::1');
    assert.equal(out.identity.provider, 'anonymous');
    assert.equal(out.response.refresh_token, undefined);
  });
});
