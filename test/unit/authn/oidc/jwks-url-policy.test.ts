// Issue 8 hole 9: a discovered jwks_uri on this machine is accepted only for a loopback
// issuer; a remote https issuer's discovery document cannot send Purser to its own loopback.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MockAgent } from 'undici';
import { RemoteKeySet } from '../../../../src/authn/oidc/key-set.js';
import { lazyDispatcher } from '../../../../src/util/lazy-dispatcher.js';
import { silentLogger } from '../../../../src/util/log.js';
import { discoveredJwksUrlProblem } from '../../../../src/util/url-policy.js';
import { TestIssuer } from '../../../helpers/issuer.js';

describe('discoveredJwksUrlProblem', () => {
  const cases: [string, string, boolean][] = [
    // [jwks_uri, issuer, accepted]
    ['https://keys.example/jwks', 'https://issuer.example', true],
    ['http://127.0.0.1:8080/jwks', 'http://127.0.0.1:8080', true],
    ['http://localhost:8080/jwks', 'http://127.0.0.1:8080', true],
    ['https://127.0.0.1:8443/jwks', 'https://localhost:8443', true],
    ['http://127.0.0.1:8080/jwks', 'https://issuer.example', false],
    ['http://localhost/jwks', 'https://issuer.example', false],
    ['http://[::1]/jwks', 'https://issuer.example', false],
    ['https://127.0.0.1/jwks', 'https://issuer.example', false],
    ['https://127.1/jwks', 'https://issuer.example', false],
    ['https://0x7f000001/jwks', 'https://issuer.example', false],
    ['https://0.0.0.0/jwks', 'https://issuer.example', false],
    ['https://[::]/jwks', 'https://issuer.example', false],
    ['https://[::ffff:127.0.0.1]/jwks', 'https://issuer.example', false],
    ['https://localhost./jwks', 'https://issuer.example', false],
    ['https://app.localhost/jwks', 'https://issuer.example', false],
    ['http://keys.example/jwks', 'https://issuer.example', false],
    ['http://keys.example/jwks', 'http://127.0.0.1:8080', false],
    ['not a url', 'https://issuer.example', false],
  ];
  for (const [jwks, issuer, ok] of cases) {
    test(`${jwks} for issuer ${issuer}: ${ok ? 'accepted' : 'refused'}`, () => {
      const problem = discoveredJwksUrlProblem(jwks, issuer);
      assert.equal(problem === undefined, ok, problem);
    });
  }
});

describe('discovery of a remote https issuer naming a loopback jwks_uri', () => {
  const ISSUER = 'https://issuer.example';
  let local: TestIssuer;
  let agent: MockAgent;
  before(async () => {
    // The keys a hostile discovery document points at, on this machine's loopback.
    local = await TestIssuer.start();
    agent = new MockAgent();
    agent.enableNetConnect(/^127\.0\.0\.1/);
    agent
      .get(ISSUER)
      .intercept({ path: '/.well-known/openid-configuration' })
      .reply(
        200,
        { issuer: ISSUER, jwks_uri: local.jwksUri },
        { headers: { 'content-type': 'application/json' } },
      )
      .persist();
  });
  after(async () => {
    await agent.close();
    await local.close();
  });

  test('the loopback keys are never fetched', async () => {
    const ks = new RemoteKeySet({
      provider: 'remote',
      issuer: ISSUER,
      jwksUri: undefined,
      maxAgeMs: 600_000,
      cooldownMs: 0,
      timeoutMs: 2_000,
      staleForMs: 0,
      dispatcher: lazyDispatcher(() => agent),
      logger: silentLogger,
      // As OidcProvider wires it.
      checkUrl: (u) => discoveredJwksUrlProblem(u, ISSUER),
    });
    await ks.warm();
    await assert.rejects(
      ks.resolve({ alg: 'ES256', kid: local.current.kid }, { payload: '', signature: '' }),
    );
    assert.equal(local.hits.jwks, 0, 'the loopback JWKS was fetched');
  });
});
