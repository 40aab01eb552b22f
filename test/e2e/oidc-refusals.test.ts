// Workload JWTs Purser must refuse: each a 401 whose JSON message names the reason. One
// Purser process, a configured loopback issuer, an unconfigured one, and an attacker's server
// that must never be contacted.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  errorMessage,
  hmacJwt,
  makeKey,
  now,
  signWith,
  TestIssuer,
  tokenPost,
  tokenRequest,
  unsignedJwt,
  waitFor,
} from '../helpers/issuer.js';
import { withLogs } from '../helpers/logs.js';
import { generateKeys, type Purser, startPurser } from '../helpers/purser.js';
import { SERVICE } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const AUD = 'registry.test';
const SCOPE = 'repository:acme/app:pull';

describe('refused workload JWTs (401 naming the reason)', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let stranger: TestIssuer;
  let attacker: TestIssuer;
  let purser: Purser | undefined;
  let dir: string;
  const logs = () => (purser ? [{ name: 'purser', logs: purser.logs }] : []);

  /** GET /token with Basic github:<jwt> (or another username); expects 401 and returns the message. */
  async function refusedWith(jwt: string, re: RegExp, username = 'github'): Promise<string> {
    const r = await tokenRequest(
      purser!.url,
      { username, password: jwt },
      { service: SERVICE, scope: SCOPE },
    );
    assert.equal(r.status, 401, `expected 401, got ${r.status}: ${JSON.stringify(r.body)}`);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    const errors = r.body.errors as { code: string; message: string }[];
    assert.equal(errors[0]?.code, 'UNAUTHORIZED');
    const msg = errorMessage(r.body);
    assert.match(msg, re);
    // The JWT itself is never echoed back.
    assert.ok(!msg.includes(jwt.split('.')[2] || '\u0000'), 'the message leaks the token');
    return msg;
  }
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: issuer.url,
    aud: AUD,
    sub: 'repo:acme/app:ref:refs/heads/main',
    repository: 'acme/app',
    repository_owner: 'acme',
    iat: now(),
    exp: now() + 300,
    ...extra,
  });

  before(async () => {
    [issuer, stranger, attacker] = await Promise.all([
      TestIssuer.start(),
      TestIssuer.start(),
      TestIssuer.start(),
    ]);
    dir = makeTempDir('purser-oidc-refusals-');
    const keys = await generateKeys(dir, 'ES256');
    purser = await startPurser({
      token: { issuer: 'purser', service: SERVICE, key: keys.key, certificate: keys.crt },
      auth: { anonymous: false, failedLogins: { max: 100_000 } },
      providers: [
        {
          name: 'github',
          issuer: issuer.url,
          audience: AUD,
          account: 'claims.repository',
          when: 'claims.repository_owner == "acme"',
          clockSkew: 0,
          // A long cooldown: no refetch during this file, so unknown kids never reach the issuer twice.
          keyCache: { cooldown: 300 },
        },
      ],
      acl: [
        {
          match: { provider: 'github', type: 'repository', name: '${claims.repository}' },
          actions: ['pull'],
        },
      ],
    });
    await waitFor(() => issuer.hits.jwks >= 1, 'Purser to fetch the JWKS');
  });
  after(async () => {
    await purser?.stop();
    await Promise.all([issuer?.close(), stranger?.close(), attacker?.close()]);
    removeDir(dir);
  });

  test(
    'control: a good token is accepted (by name and by issuer)',
    withLogs(logs, async () => {
      const jwt = await issuer.sign(claims());
      for (const username of ['github', 'anyone']) {
        const r = await tokenRequest(
          purser!.url,
          { username, password: jwt },
          { service: SERVICE, scope: SCOPE },
        );
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
    }),
  );

  test(
    'expired',
    withLogs(logs, async () => {
      await refusedWith(
        await issuer.sign(claims({ iat: now() - 600, exp: now() - 30 })),
        /github: token expired/,
      );
    }),
  );

  test(
    'not yet valid (nbf in the future)',
    withLogs(logs, async () => {
      await refusedWith(await issuer.sign(claims({ nbf: now() + 120 })), /not yet valid \(nbf\)/);
    }),
  );

  test(
    'wrong audience',
    withLogs(logs, async () => {
      await refusedWith(
        await issuer.sign(claims({ aud: 'https://github.com/acme' })),
        /another audience \(aud\)/,
      );
    }),
  );

  test(
    'missing aud',
    withLogs(logs, async () => {
      await refusedWith(await issuer.sign(claims({ aud: undefined })), /no aud claim/);
    }),
  );

  test(
    'missing exp',
    withLogs(logs, async () => {
      await refusedWith(await issuer.sign(claims({ exp: undefined })), /no valid exp claim/);
    }),
  );

  test(
    'missing iss',
    withLogs(logs, async () => {
      await refusedWith(await issuer.sign(claims({ iss: undefined })), /no iss claim/);
      // Without a provider name, a token without iss matches no provider.
      await refusedWith(
        await issuer.sign(claims({ iss: undefined })),
        /invalid username or password|no provider/,
        'anyone',
      );
    }),
  );

  test(
    'wrong issuer: an issuer that is not configured',
    withLogs(logs, async () => {
      const jwt = await stranger.sign(claims({ iss: stranger.url }));
      await refusedWith(jwt, /no provider is configured for the token's issuer/, 'anyone');
      // Named provider: the stranger's key is not one the configured issuer publishes.
      await refusedWith(jwt, /does not publish|another issuer/);
      assert.equal(stranger.hits.total, 0, 'the unconfigured issuer was contacted');
    }),
  );

  test(
    "wrong issuer: signed by the configured issuer's key but iss names another",
    withLogs(logs, async () => {
      await refusedWith(await issuer.sign(claims({ iss: stranger.url })), /another issuer \(iss\)/);
    }),
  );

  test(
    "iss claims the configured issuer but the token is signed by another issuer's key",
    withLogs(logs, async () => {
      await refusedWith(await stranger.sign(claims()), /does not publish/);
      await refusedWith(await stranger.sign(claims()), /does not publish/, 'anyone');
      // Same kid as a published key.
      await refusedWith(
        await stranger.sign(claims(), { header: { kid: issuer.current.kid } }),
        /does not verify/,
      );
      assert.equal(stranger.hits.total, 0);
    }),
  );

  test(
    'alg: none',
    withLogs(logs, async () => {
      await refusedWith(unsignedJwt(claims()), /algorithm "none" not allowed/);
      await refusedWith(
        unsignedJwt(claims(), { alg: 'none', typ: 'JWT', kid: issuer.current.kid }),
        /algorithm "none" not allowed/,
        'anyone',
      );
      // "None" / "NONE" spelled differently are just as refused.
      await refusedWith(unsignedJwt(claims(), { alg: 'NONE' }), /not allowed/);
    }),
  );

  test(
    "HS256 signed with the issuer's public key as the secret",
    withLogs(logs, async () => {
      const pub = issuer.current;
      for (const secret of [
        pub.publicPem,
        `${pub.publicPem.trim()}`,
        JSON.stringify(pub.publicJwk),
        JSON.stringify(issuer.jwks()),
      ]) {
        await refusedWith(hmacJwt(secret, claims(), { kid: pub.kid }), /algorithm "HS256" not allowed/);
      }
    }),
  );

  test(
    'a valid signature by a key the issuer does not publish, under a published kid',
    withLogs(logs, async () => {
      const rogue = await makeKey('RS256', issuer.current.kid);
      await refusedWith(await signWith(rogue, claims()), /signature does not verify with the issuer's keys/);
    }),
  );

  test(
    'a kid the issuer does not publish',
    withLogs(logs, async () => {
      const rogue = await makeKey('ES256', 'not-published');
      await refusedWith(await signWith(rogue, claims()), /does not publish \(kid "not-published"\)/);
      // The issuer's own published key under a kid it does not publish: also refused.
      await refusedWith(await issuer.sign(claims(), { header: { kid: 'renamed' } }), /does not publish/);
    }),
  );

  test(
    'jku / x5u / embedded jwk pointing at an attacker are ignored, and the attacker is never contacted',
    withLogs(logs, async () => {
      const a = attacker.current;
      const jku = { jku: `${attacker.url}/jwks` };
      const x5u = { x5u: `${attacker.url}/cert.pem` };
      const jwk = { jwk: a.publicJwk };
      await refusedWith(await signWith(a, claims(), jku), /does not publish/);
      await refusedWith(await signWith(a, claims(), { ...jku, kid: issuer.current.kid }), /does not verify/);
      await refusedWith(await signWith(a, claims(), x5u), /does not publish/);
      await refusedWith(await signWith(a, claims(), { ...x5u, kid: issuer.current.kid }), /does not verify/);
      await refusedWith(await signWith(a, claims(), jwk), /does not publish/);
      await refusedWith(await signWith(a, claims(), { ...jwk, kid: issuer.current.kid }), /does not verify/);
      await refusedWith(
        await signWith(a, claims(), { ...jwk, kid: undefined }),
        /does not publish|does not verify|refused/,
      );
      await refusedWith(
        await signWith(a, claims(), { ...jku, ...x5u, ...jwk, kid: undefined }),
        /does not publish|does not verify|refused/,
      );
      // by issuer too
      await refusedWith(await signWith(a, claims(), jku), /does not publish/, 'anyone');
      assert.equal(
        attacker.hits.total,
        0,
        `the attacker's server was contacted: ${attacker.hits.paths.join(', ')}`,
      );
    }),
  );

  test(
    'truncated tokens',
    withLogs(logs, async () => {
      const good = await issuer.sign(claims());
      await refusedWith(good.slice(0, -10), /signature does not verify|malformed/);
      await refusedWith(good.slice(0, good.lastIndexOf('.') + 1), /signature does not verify|malformed/);
      await refusedWith(good.slice(0, good.lastIndexOf('.')), /expects a JWT|malformed/);
      await refusedWith(good.slice(0, good.indexOf('.') + 20), /expects a JWT|malformed/);
      // Cut in the payload, signature kept: the payload is not JSON or the signature fails.
      const [h, p, s] = good.split('.');
      await refusedWith(`${h}.${p!.slice(0, -7)}.${s}`, /malformed|does not verify/);
    }),
  );

  test(
    'an oversized token (> 16 KiB) is refused without being verified',
    withLogs(logs, async () => {
      const big = await issuer.sign(claims({ pad: 'x'.repeat(16 * 1024) }));
      assert.ok(big.length > 16 * 1024);
      // As a Basic password (GET): the header alone exceeds what a token server takes.
      const r = await tokenRequest(
        purser!.url,
        { username: 'github', password: big },
        { service: SERVICE, scope: SCOPE },
      ).catch((e: unknown) => ({ status: -1, body: { raw: String(e) } }));
      assert.ok(
        [400, 401, 431].includes(r.status),
        `status ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`,
      );
      // As an OAuth2 password grant (POST form).
      const p = await tokenPost(purser!.url, {
        grant_type: 'password',
        username: 'github',
        password: big,
        service: SERVICE,
        scope: SCOPE,
      });
      assert.ok([400, 401].includes(p.status), `status ${p.status}`);
      assert.match(errorMessage(p.body), /too long|too large/);
    }),
  );

  test(
    'an oversized token is a 401 naming its size (OAuth2 password grant, which has room for it)',
    withLogs(logs, async () => {
      const big = await issuer.sign(claims({ pad: 'x'.repeat(16 * 1024) }));
      const p = await tokenPost(purser!.url, {
        grant_type: 'password',
        username: 'github',
        password: big,
        service: SERVICE,
        scope: SCOPE,
      });
      assert.equal(p.status, 401, JSON.stringify(p.body));
      assert.match(errorMessage(p.body), /too large/);
    }),
  );

  test(
    'a large but legal JWT (~7.5 KiB, under the 16 KiB limit) is accepted as a Basic password',
    withLogs(logs, async () => {
      const jwt = await issuer.sign(claims({ groups: Array.from({ length: 450 }, (_, i) => `group-${i}`) }));
      assert.ok(jwt.length > 7000 && jwt.length < 12 * 1024, `length ${jwt.length}`);
      const r = await tokenRequest(
        purser!.url,
        { username: 'github', password: jwt },
        { service: SERVICE, scope: SCOPE },
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }),
  );

  test(
    'a token whose provider `when` is false',
    withLogs(logs, async () => {
      const jwt = await issuer.sign(claims({ repository: 'evil/app', repository_owner: 'evil' }));
      await refusedWith(jwt, /refused by provider github's condition/);
      await refusedWith(jwt, /refused by provider github's condition/, 'anyone');
      // A `when` that cannot be evaluated (claim missing) is false too.
      await refusedWith(await issuer.sign(claims({ repository_owner: undefined })), /condition/);
    }),
  );

  test(
    'a token without the claim the account comes from',
    withLogs(logs, async () => {
      await refusedWith(await issuer.sign(claims({ repository: undefined })), /has no account|empty account/);
      await refusedWith(await issuer.sign(claims({ repository: '' })), /empty account/);
    }),
  );

  test(
    'a non-JWT password for a provider name',
    withLogs(logs, async () => {
      await refusedWith('hunter2', /expects a JWT/);
    }),
  );

  test(
    'the refusals are counted and logged with the reason',
    withLogs(logs, async () => {
      const m = await (await fetch(`${purser!.url}/metrics`)).text();
      assert.match(m, /purser_failed_logins_total\{[^}]*oidc/);
      assert.match(purser!.logs(), /token request refused/);
      assert.match(purser!.logs(), /token expired/);
    }),
  );
});
