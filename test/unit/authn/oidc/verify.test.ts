// Workload JWT verification policy and the issuer key cache, against a real loopback issuer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issuerDispatcher } from '../../../../src/authn/oidc/fetch-json.js';
import { type KeySetOptions, RemoteKeySet } from '../../../../src/authn/oidc/key-set.js';
import {
  looksLikeJwt,
  MAX_JWT_LENGTH,
  type VerifyPolicy,
  verifyWorkloadJwt,
} from '../../../../src/authn/oidc/verify.js';
import { isPurserError } from '../../../../src/core/errors.js';
import { createLogger, silentLogger } from '../../../../src/util/log.js';
import {
  hmacJwt,
  makeKey,
  now,
  randomKid,
  signWith,
  startHangingServer,
  TestIssuer,
  unsignedJwt,
} from '../../../helpers/issuer.js';
import { getFreePort } from '../../../helpers/ports.js';

const AUD = 'registry.test';

function keySet(issuer: { url: string }, o: Partial<KeySetOptions> = {}): RemoteKeySet {
  return new RemoteKeySet({
    provider: 'test',
    issuer: issuer.url,
    jwksUri: undefined,
    maxAgeMs: 600_000,
    cooldownMs: 30_000,
    timeoutMs: 2_000,
    staleForMs: 86_400_000,
    dispatcher: issuerDispatcher(undefined),
    logger: silentLogger,
    checkUrl: () => undefined,
    ...o,
  });
}

function policy(issuer: { url: string }, o: Partial<VerifyPolicy> = {}): VerifyPolicy {
  return {
    issuer: issuer.url,
    audiences: [AUD],
    algorithms: ['RS256', 'ES256'],
    clockSkew: 0,
    maxTokenAge: undefined,
    ...o,
  };
}

/** assert.rejects predicate: a PurserError with this status whose message matches. */
const refused =
  (re: RegExp, status = 401) =>
  (e: unknown) => {
    if (!isPurserError(e)) throw new Error(`expected a PurserError, got ${String(e)}`);
    if (e.status !== status) throw new Error(`expected status ${status}, got ${e.status}: ${e.message}`);
    if (!re.test(e.message)) throw new Error(`message ${JSON.stringify(e.message)} does not match ${re}`);
    return true;
  };

describe('verifyWorkloadJwt policy', () => {
  let iss: TestIssuer;
  let other: TestIssuer;
  let keys: RemoteKeySet;
  before(async () => {
    iss = await TestIssuer.start();
    other = await TestIssuer.start();
    keys = keySet(iss);
    await keys.warm();
  });
  after(async () => {
    await iss.close();
    await other.close();
  });
  const verify = (t: string, p: Partial<VerifyPolicy> = {}) => verifyWorkloadJwt(t, keys, policy(iss, p));

  test('a good RS256 and a good ES256 token verify; the trace names the steps', async () => {
    const trace: string[] = [];
    const p = await verifyWorkloadJwt(await iss.sign({ sub: 'a', aud: AUD }), keys, policy(iss), trace);
    assert.equal(p.sub, 'a');
    assert.match(trace.join('\n'), /signature: verified/);
    assert.match(trace.join('\n'), /claims: iss, aud, exp/);
    const es = await iss.sign({ sub: 'b', aud: AUD }, { key: iss.keyFor('ES256') });
    assert.equal((await verify(es)).sub, 'b');
  });

  test('aud may be a list containing an accepted audience', async () => {
    assert.equal((await verify(await iss.sign({ sub: 'a', aud: ['x', AUD] }))).sub, 'a');
  });

  test('expired', async () => {
    await assert.rejects(verify(await iss.sign({ aud: AUD, exp: now() - 5 })), refused(/expired/));
  });

  test('expired but within the skew is accepted', async () => {
    await verify(await iss.sign({ aud: AUD, exp: now() - 5 }), { clockSkew: 60 });
  });

  test('not yet valid', async () => {
    await assert.rejects(verify(await iss.sign({ aud: AUD, nbf: now() + 120 })), refused(/not yet valid/));
  });

  test('wrong audience, missing audience', async () => {
    await assert.rejects(verify(await iss.sign({ aud: 'other' })), refused(/another audience/));
    await assert.rejects(verify(await iss.sign({})), refused(/no aud/));
  });

  test('wrong issuer, missing issuer', async () => {
    await assert.rejects(verify(await iss.sign({ aud: AUD, iss: other.url })), refused(/another issuer/));
    await assert.rejects(verify(await iss.sign({ aud: AUD, iss: undefined })), refused(/no iss/));
  });

  test('missing exp', async () => {
    await assert.rejects(verify(await iss.sign({ aud: AUD, exp: undefined })), refused(/no valid exp/));
  });

  test('maxTokenAge: an old iat is refused, a recent one accepted, a missing one refused', async () => {
    await assert.rejects(
      verify(await iss.sign({ aud: AUD, iat: now() - 600 }), { maxTokenAge: 60 }),
      refused(/./),
    );
    await verify(await iss.sign({ aud: AUD, iat: now() - 10 }), { maxTokenAge: 60 });
    await assert.rejects(
      verify(await iss.sign({ aud: AUD, iat: undefined }), { maxTokenAge: 60 }),
      refused(/iat/),
    );
  });

  test('maxTokenAge: the refusal names the age (iat), not expiry', async () => {
    await assert.rejects(
      verify(await iss.sign({ aud: AUD, iat: now() - 600 }), { maxTokenAge: 60 }),
      refused(/too old/),
    );
  });

  test('alg none', async () => {
    const t = unsignedJwt({ iss: iss.url, aud: AUD, exp: now() + 60, sub: 'x' });
    await assert.rejects(verify(t), refused(/algorithm "none" not allowed/));
  });

  test('HS256 with the public key (PEM or JWK) as the secret', async () => {
    const claims = { iss: iss.url, aud: AUD, exp: now() + 60, sub: 'x' };
    for (const secret of [
      iss.current.publicPem,
      JSON.stringify(iss.current.publicJwk),
      JSON.stringify(iss.jwks()),
    ]) {
      await assert.rejects(
        verify(hmacJwt(secret, claims, { kid: iss.current.kid })),
        refused(/algorithm "HS256" not allowed/),
      );
    }
  });

  test('an algorithm outside the allow-list (ES256 when only RS256 is allowed)', async () => {
    const es = await iss.sign({ aud: AUD }, { key: iss.keyFor('ES256') });
    await assert.rejects(verify(es, { algorithms: ['RS256'] }), refused(/algorithm "ES256" not allowed/));
  });

  test('a key the issuer does not publish: same kid, and unknown kid', async () => {
    const rogue = await makeKey('RS256', iss.current.kid);
    await assert.rejects(
      verify(await signWith(rogue, { iss: iss.url, aud: AUD, exp: now() + 60 })),
      refused(/does not verify/),
    );
    const unknown = await makeKey('RS256');
    await assert.rejects(
      verify(await signWith(unknown, { iss: iss.url, aud: AUD, exp: now() + 60 })),
      refused(/does not publish \(kid "/),
    );
  });

  test('jku, x5u and an embedded jwk are never used', async () => {
    const attacker = await TestIssuer.start();
    try {
      const a = attacker.current;
      const claims = { iss: iss.url, aud: AUD, exp: now() + 60 };
      for (const header of [
        { jku: attacker.jwksUri },
        { x5u: `${attacker.url}/cert.pem` },
        { jwk: a.publicJwk },
        { jwk: a.publicJwk, kid: undefined },
        { jku: attacker.jwksUri, kid: iss.current.kid },
        { jwk: a.publicJwk, kid: iss.current.kid },
      ]) {
        await assert.rejects(
          verify(await signWith(a, claims, header)),
          refused(/does not publish|does not verify|refused|unsupported/),
          JSON.stringify(Object.keys(header)),
        );
      }
      assert.equal(
        attacker.hits.total,
        0,
        `the attacker's server was contacted: ${attacker.hits.paths.join(', ')}`,
      );
    } finally {
      await attacker.close();
    }
  });

  test('truncated and malformed tokens', async () => {
    const good = await iss.sign({ aud: AUD });
    await assert.rejects(verify(good.slice(0, -8)), refused(/does not verify|malformed/));
    await assert.rejects(verify(good.slice(0, good.lastIndexOf('.'))), refused(/malformed/));
    await assert.rejects(verify(good.slice(0, good.indexOf('.') + 5)), refused(/malformed/));
    await assert.rejects(verify('a.b.c'), refused(/malformed/));
    await assert.rejects(verify(`${good} `), refused(/malformed/));
  });

  test(`oversized tokens (> ${MAX_JWT_LENGTH} bytes) are refused before any parsing`, async () => {
    const big = await iss.sign({ aud: AUD, pad: 'x'.repeat(MAX_JWT_LENGTH) });
    assert.ok(big.length > MAX_JWT_LENGTH);
    await assert.rejects(verify(big), refused(/too large/));
    // Just under the limit is fine.
    const ok = await iss.sign({ aud: AUD, pad: 'x'.repeat((MAX_JWT_LENGTH * 3) / 4 - 1500) });
    assert.ok(ok.length < MAX_JWT_LENGTH);
    await verify(ok);
  });

  test('looksLikeJwt', async () => {
    assert.equal(looksLikeJwt(await iss.sign({ aud: AUD })), true);
    assert.equal(looksLikeJwt('hunter2'), false);
    assert.equal(looksLikeJwt('a.b'), false);
    assert.equal(looksLikeJwt('$2y$10$abc.def.ghi'), false);
  });
});

describe('RemoteKeySet (issuer key cache)', () => {
  let iss: TestIssuer;
  before(async () => {
    iss = await TestIssuer.start();
  });
  after(async () => {
    await iss.close();
  });

  test('discovery then JWKS; keys are cached', async () => {
    iss.resetHits();
    const ks = keySet(iss);
    const t = await iss.sign({ aud: AUD });
    await verifyWorkloadJwt(t, ks, policy(iss));
    await verifyWorkloadJwt(t, ks, policy(iss));
    assert.deepEqual([iss.hits.discovery, iss.hits.jwks], [1, 1]);
    assert.equal(ks.fetchCount, 1);
  });

  test('jwksUri skips discovery', async () => {
    iss.resetHits();
    const ks = keySet(iss, { jwksUri: iss.jwksUri });
    await verifyWorkloadJwt(await iss.sign({ aud: AUD }), ks, policy(iss));
    assert.deepEqual([iss.hits.discovery, iss.hits.jwks], [0, 1]);
  });

  test('concurrent first logins share one fetch', async () => {
    iss.resetHits();
    iss.delayMs = 100;
    try {
      const ks = keySet(iss);
      const t = await iss.sign({ aud: AUD });
      await Promise.all(Array.from({ length: 20 }, () => verifyWorkloadJwt(t, ks, policy(iss))));
      assert.deepEqual([iss.hits.discovery, iss.hits.jwks], [1, 1]);
    } finally {
      iss.delayMs = 0;
    }
  });

  test('an unknown kid refetches at most once per cooldown (fake clock)', async () => {
    let clock = 1_000_000;
    const ks = keySet(iss, { now: () => clock, cooldownMs: 30_000 });
    await ks.warm();
    iss.resetHits();
    const rogue = async () =>
      signWith(await makeKey('ES256', randomKid('rnd')), { iss: iss.url, aud: AUD, exp: now() + 60 });
    // Within the cooldown of the warm-up fetch: no refetch at all.
    for (let i = 0; i < 10; i++)
      await assert.rejects(verifyWorkloadJwt(await rogue(), ks, policy(iss)), refused(/does not publish/));
    assert.equal(iss.hits.jwks, 0);
    clock += 30_001;
    const flood = await Promise.all(Array.from({ length: 30 }, () => rogue()));
    const results = await Promise.allSettled(flood.map((t) => verifyWorkloadJwt(t, ks, policy(iss))));
    assert.ok(results.every((r) => r.status === 'rejected'));
    assert.equal(iss.hits.jwks, 1, 'one refetch for the whole flood');
    for (let i = 0; i < 10; i++) await assert.rejects(verifyWorkloadJwt(await rogue(), ks, policy(iss)));
    assert.equal(iss.hits.jwks, 1, 'none until the cooldown has passed again');
  });

  test('rotation: a token by a new key is accepted after one refetch', async () => {
    let clock = 2_000_000;
    const ks = keySet(iss, { now: () => clock, cooldownMs: 5_000 });
    await ks.warm();
    const old = iss.keys;
    const oldCurrent = iss.current;
    try {
      clock += 5_001;
      iss.resetHits();
      await iss.rotate('ES256');
      await verifyWorkloadJwt(await iss.sign({ aud: AUD }), ks, policy(iss));
      assert.equal(iss.hits.jwks, 1);
      await verifyWorkloadJwt(await iss.sign({ aud: AUD }), ks, policy(iss));
      assert.equal(iss.hits.jwks, 1, 'cached after the refetch');
    } finally {
      iss.keys = old;
      iss.current = oldCurrent;
    }
  });

  test('stale keys keep serving while the issuer is down, for staleFor', async () => {
    let clock = 3_000_000;
    const own = await TestIssuer.start();
    try {
      const ks = keySet(own, { now: () => clock, maxAgeMs: 10_000, cooldownMs: 1_000, staleForMs: 60_000 });
      await ks.warm();
      const t = await own.sign({ aud: AUD });
      await own.down();
      clock += 11_000; // past maxAge: a background refresh fails, the old keys still serve
      await verifyWorkloadJwt(t, ks, policy(own));
      clock += 30_000;
      await verifyWorkloadJwt(t, ks, policy(own));
      clock += 40_000; // past maxAge + staleFor
      await assert.rejects(verifyWorkloadJwt(t, ks, policy(own)), refused(/unreachable/, 503));
      await own.up();
    } finally {
      await own.close();
    }
  });

  test('an unreachable issuer never fetched: 503, and no hammering within the cooldown', async () => {
    const port = await getFreePort();
    const ks = keySet({ url: `http://127.0.0.1:${port}` }, { cooldownMs: 60_000 });
    const fake = { url: `http://127.0.0.1:${port}` };
    const iss2 = await TestIssuer.start();
    try {
      const t = await signWith(iss2.current, { iss: fake.url, aud: AUD, exp: now() + 60 });
      await assert.rejects(verifyWorkloadJwt(t, ks, policy(fake)), refused(/unreachable/, 503));
      assert.equal(ks.fetchCount, 1);
      await assert.rejects(verifyWorkloadJwt(t, ks, policy(fake)), refused(/unreachable/, 503));
      assert.equal(ks.fetchCount, 1, 'no second fetch within the cooldown');
    } finally {
      await iss2.close();
    }
  });

  test('a hanging issuer: the fetch times out', async () => {
    const hang = await startHangingServer();
    try {
      const ks = keySet(hang, { timeoutMs: 500 });
      const t = await signWith(iss.current, { iss: hang.url, aud: AUD, exp: now() + 60 });
      const started = Date.now();
      await assert.rejects(verifyWorkloadJwt(t, ks, policy(hang)), refused(/unreachable/, 503));
      const ms = Date.now() - started;
      assert.ok(ms < 2_000, `took ${ms} ms`);
      assert.ok(hang.connections() >= 1);
    } finally {
      await hang.close();
    }
  });

  test('discovery whose issuer differs from the configured one is refused, and logged with the URL', async () => {
    const lines: string[] = [];
    const bad = await TestIssuer.start({ discoveryIssuer: 'https://evil.example' });
    try {
      const ks = keySet(bad, { logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) });
      const t = await bad.sign({ aud: AUD });
      await assert.rejects(verifyWorkloadJwt(t, ks, policy(bad)), refused(/unreachable/, 503));
      assert.equal(bad.hits.jwks, 0, 'the JWKS of a mismatching discovery document is not fetched');
      const log = lines.join('\n');
      assert.match(log, /does not equal the configured/);
      assert.match(log, /openid-configuration/);
    } finally {
      await bad.close();
    }
  });

  test('a jwks_uri in discovery that fails checkUrl is not fetched', async () => {
    const attacker = await TestIssuer.start();
    const bad = await TestIssuer.start({ jwksUri: `${attacker.url}/jwks` });
    try {
      const ks = keySet(bad, {
        checkUrl: (u) => (u.startsWith(attacker.url) ? `${u} is not allowed` : undefined),
      });
      await assert.rejects(
        verifyWorkloadJwt(await bad.sign({ aud: AUD }), ks, policy(bad)),
        refused(/unreachable/, 503),
      );
      assert.equal(attacker.hits.total, 0);
    } finally {
      await bad.close();
      await attacker.close();
    }
  });

  test('symmetric and private keys in a JWKS are ignored', async () => {
    const weird = await TestIssuer.start();
    try {
      const secret = 'shared-secret-shared-secret-0123';
      // Publish an oct key with a kid, as a broken issuer might.
      weird.keys.push({
        ...weird.current,
        kid: 'oct-1',
        publicJwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url'), kid: 'oct-1', alg: 'HS256' },
      });
      const ks = keySet(weird);
      const t = hmacJwt(secret, { iss: weird.url, aud: AUD, exp: now() + 60 }, { kid: 'oct-1' });
      await assert.rejects(
        verifyWorkloadJwt(t, ks, policy(weird, { algorithms: ['RS256', 'ES256', 'HS256' as 'RS256'] })),
        refused(/does not publish|not allowed|refused|unsupported/),
      );
    } finally {
      await weird.close();
    }
  });
});
