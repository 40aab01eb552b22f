// The throttle keys the OIDC and static authenticators give (moved out of TokenService):
// refused workload JWTs count per token, a static user's name counts per name.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OidcAuthenticator, OidcProviders } from '../../../../src/authn/oidc/authenticator.js';
import { OidcProvider } from '../../../../src/authn/oidc/provider.js';
import { StaticUsers } from '../../../../src/authn/static-users.js';
import { Acl, compileRules } from '../../../../src/authz/acl.js';
import { buildConfig } from '../../../../src/config/load.js';
import type { RuleData } from '../../../../src/config/schema.js';
import { Secret } from '../../../../src/core/secret.js';
import { TokenService } from '../../../../src/server/token-service.js';
import { KeyRing } from '../../../../src/token/keyring.js';
import { loadSigningKey } from '../../../../src/token/keys.js';
import { silentLogger } from '../../../../src/util/log.js';
import { TestIssuer } from '../../../helpers/issuer.js';
import { cheapHash, makeKeys, purserError, tempDir } from '../../support.js';

describe('throttle keys of the built-in authenticators', () => {
  const tmp = tempDir('purser-throttle-key-');
  let issuer: TestIssuer;
  let providers: OidcProviders;
  let tokens: TokenService;

  before(async () => {
    issuer = await TestIssuer.start();
    const config = buildConfig(
      {
        token: { issuer: 'purser', service: 'svc', key: 'unused.key' },
        providers: [{ name: 'ci', issuer: issuer.url, audience: 'svc', account: 'claims.repository' }],
        acl: [{ match: {}, actions: ['pull'] }],
      },
      undefined,
      tmp.dir,
    );
    providers = new OidcProviders(
      [await OidcProvider.create(config.providers[0]!, 'providers[0]', undefined, silentLogger)],
      undefined,
    );
    const k = await makeKeys();
    const ring = new KeyRing([await loadSigningKey(k.keyPath, k.crtPath)], {
      issuer: 'purser',
      keyId: 'libtrust',
      expiresIn: 60,
    });
    k.cleanup();
    const staticUsers = new StaticUsers(new Map([['alice', { hash: cheapHash('pw') }]]), 60);
    tokens = new TokenService({
      issuer: 'purser',
      services: ['svc'],
      keyring: ring,
      authenticators: [
        new OidcAuthenticator(providers, 'by-name'),
        staticUsers,
        new OidcAuthenticator(providers, 'by-issuer'),
      ],
      authorizer: new Acl(compileRules([{ match: {}, actions: ['pull'] } as RuleData], undefined)),
      anonymous: false,
      throttlePolicy: { max: 2, windowSeconds: 60 },
    });
  });

  after(async () => {
    await providers?.close();
    await issuer?.close();
    tmp.cleanup();
  });

  const login = (username: string, password: string, ip: string) =>
    tokens.authenticate({ username, password: new Secret(password) }, ip);

  test('refused JWTs, by name or by issuer, do not lock out a good JWT from the same address', async () => {
    for (let i = 0; i < 3; i++) {
      const wrongAud = await issuer.github({ aud: 'elsewhere' });
      await assert.rejects(login('ci', wrongAud, '10.9.9.9'), purserError('UNAUTHORIZED'));
      await assert.rejects(login('anyone', wrongAud, '10.9.9.9'), purserError('UNAUTHORIZED'));
    }
    const good = await issuer.github({ aud: 'svc', repository: 'acme/app' });
    assert.equal((await login('ci', good, '10.9.9.9')).account, 'acme/app');
    // The same refused JWT again and again is throttled.
    const bad = await issuer.github({ aud: 'elsewhere' });
    for (let i = 0; i < 2; i++)
      await assert.rejects(login('ci', bad, '10.9.9.8'), purserError('UNAUTHORIZED'));
    await assert.rejects(login('ci', bad, '10.9.9.8'), purserError('TOO_MANY_ATTEMPTS'));
  });

  test('verified(): a JWT its provider verified before is no guess; a new or refused one is', async () => {
    const byName = new OidcAuthenticator(providers, 'by-name');
    const byIssuer = new OidcAuthenticator(providers, 'by-issuer');
    const creds = (username: string, password: string) => ({ username, password: new Secret(password) });
    const good = await issuer.github({ aud: 'svc', repository: 'acme/app' });
    assert.equal(await byName.verified(creds('ci', good)), false, 'not verified yet');
    assert.equal(await byIssuer.verified(creds('x', good)), false);
    assert.equal((await login('ci', good, '10.7.7.7')).account, 'acme/app');
    assert.equal(await byName.verified(creds('ci', good)), true);
    assert.equal(await byIssuer.verified(creds('anyone', good)), true);
    // By name, only under the provider's own name.
    assert.equal(await byName.verified(creds('alice', good)), false);
    // A refused token is never remembered as verified.
    const wrongAud = await issuer.github({ aud: 'elsewhere' });
    await assert.rejects(login('ci', wrongAud, '10.7.7.7'), purserError('UNAUTHORIZED'));
    assert.equal(await byName.verified(creds('ci', wrongAud)), false);
    // Not a JWT at all.
    assert.equal(await byName.verified(creds('ci', 'password')), false);
  });

  test('logins in flight at once each get their own token looked at, and a changed password is looked at anew', async () => {
    // The authenticator remembers what it worked out about one Credentials object at a time:
    // interleaved logins must never see each other's answer.
    const good = await issuer.github({ aud: 'svc', repository: 'acme/one' });
    const other = await issuer.github({ aud: 'svc', repository: 'acme/two' });
    const wrongAud = await issuer.github({ aud: 'elsewhere', repository: 'acme/three' });
    const results = await Promise.allSettled([
      login('ci', good, '10.6.6.1'),
      login('ci', wrongAud, '10.6.6.2'),
      login('ci', other, '10.6.6.3'),
      login('anyone', other, '10.6.6.4'),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value.account : 'refused')),
      ['acme/one', 'refused', 'acme/two', 'acme/two'],
    );
    const byName = new OidcAuthenticator(providers, 'by-name');
    const creds = { username: 'ci', password: new Secret(good) };
    assert.equal(await byName.verified(creds), true);
    creds.password = new Secret(wrongAud);
    assert.equal(await byName.verified(creds), false);
    creds.password = new Secret('not-a-jwt');
    assert.equal(await byName.verified(creds), false);
  });

  test("JWT-shaped guesses at a static user's name count against that name", async () => {
    for (const g of ['aa.bb.cc', 'aa.bb.dd'])
      await assert.rejects(login('alice', g, '10.8.8.8'), purserError('UNAUTHORIZED'));
    await assert.rejects(login('alice', 'pw', '10.8.8.8'), purserError('TOO_MANY_ATTEMPTS'));
  });
});
