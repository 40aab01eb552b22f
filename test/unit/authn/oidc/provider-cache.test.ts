// The verified-JWT cache of OidcProvider: the signature is checked once per token, the time
// claims and the provider's `when` on every use.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OidcProvider } from '../../../../src/authn/oidc/provider.js';
import { buildConfig } from '../../../../src/config/load.js';
import { isPurserError } from '../../../../src/core/errors.js';
import { silentLogger } from '../../../../src/util/log.js';
import { now, TestIssuer } from '../../../helpers/issuer.js';
import { tempDir } from '../../support.js';

describe('OidcProvider verified-token cache', () => {
  const tmp = tempDir('purser-provider-cache-');
  let issuer: TestIssuer;
  let provider: OidcProvider;

  before(async () => {
    issuer = await TestIssuer.start();
    const config = buildConfig(
      {
        token: { issuer: 'purser', service: 'svc', key: 'unused.key' },
        providers: [
          {
            name: 'ci',
            issuer: issuer.url,
            audience: 'svc',
            clockSkew: 0,
            when: 'claims.ref == "refs/heads/main"',
            account: 'claims.repository',
          },
        ],
        acl: [{ match: {}, actions: ['pull'] }],
      },
      undefined,
      tmp.dir,
    );
    provider = await OidcProvider.create(config.providers[0]!, 'providers[0]', undefined, silentLogger);
  });

  after(async () => {
    await issuer?.close();
    tmp.cleanup();
  });

  test('a token is verified against the issuer once, then served from the cache', async () => {
    const jwt = await issuer.github({ aud: 'svc', repository: 'acme/app' });
    const t1: string[] = [];
    assert.equal((await provider.identify(jwt, t1)).account, 'acme/app');
    assert.ok(t1.some((l) => l.startsWith('signature: verified with')));
    const t2: string[] = [];
    assert.equal((await provider.identify(jwt, t2)).account, 'acme/app');
    assert.ok(
      t2.some((l) => l.includes('verified earlier')),
      t2.join('\n'),
    );
    assert.ok(
      t2.some((l) => l.startsWith('when:')),
      'the when condition runs on a cache hit too',
    );
  });

  test('a cached token is refused once it has expired', async () => {
    const exp = now() + 2;
    const jwt = await issuer.github({ aud: 'svc', exp });
    await provider.identify(jwt);
    await new Promise((r) => setTimeout(r, (exp + 1) * 1000 - Date.now()));
    await assert.rejects(provider.identify(jwt), (e) => isPurserError(e) && /expired/.test(e.message));
  });

  test('a tampered copy of a cached token is not a cache hit', async () => {
    const jwt = await issuer.github({ aud: 'svc' });
    await provider.identify(jwt);
    const [h, p, s] = jwt.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
    claims.repository = 'victim/app';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    await assert.rejects(provider.identify(forged), (e) => isPurserError(e) && /signature/.test(e.message));
  });
});
