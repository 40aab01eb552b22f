// The issuer key cache seen from outside: rotation, floods of unknown kids, issuers that are
// down, dead, hanging or answering 503. One Purser with one provider per scenario, each on
// its own loopback issuer; the provider is chosen by the Basic username.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  errorMessage,
  makeKey,
  now,
  randomKid,
  signWith,
  startHangingServer,
  TestIssuer,
  tokenRequest,
  waitFor,
} from '../helpers/issuer.js';
import { withLogs } from '../helpers/logs.js';
import { getFreePort } from '../helpers/ports.js';
import { generateKeys, type Purser, startPurser } from '../helpers/purser.js';
import { SERVICE } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const AUD = 'registry.test';
const SCOPE = 'repository:acme/app:pull';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('issuer keys: rotation, floods, outages', { timeout: 60_000 }, () => {
  let rot: TestIssuer;
  let flood: TestIssuer;
  let flood30: TestIssuer;
  let downIss: TestIssuer;
  let hang: Awaited<ReturnType<typeof startHangingServer>>;
  let deadUrl: string;
  let purser: Purser | undefined;
  let dir: string;
  const logs = () => (purser ? [{ name: 'purser', logs: purser.logs }] : []);

  const login = (provider: string, jwt: string) =>
    tokenRequest(purser!.url, { username: provider, password: jwt }, { service: SERVICE, scope: SCOPE });
  async function accepted(provider: string, jwt: string): Promise<void> {
    const r = await login(provider, jwt);
    assert.equal(r.status, 200, `${provider}: ${JSON.stringify(r.body)}`);
  }

  before(async () => {
    [rot, flood, flood30, downIss] = await Promise.all([
      TestIssuer.start(),
      TestIssuer.start({ alg: 'ES256', withEc: false }),
      TestIssuer.start({ alg: 'ES256', withEc: false }),
      TestIssuer.start(),
    ]);
    hang = await startHangingServer();
    deadUrl = `http://127.0.0.1:${await getFreePort()}`;
    dir = makeTempDir('purser-oidc-keys-');
    const keys = await generateKeys(dir, 'ES256');
    const provider = (name: string, issuer: string, keyCache: Record<string, number>) => ({
      name,
      issuer,
      audience: AUD,
      clockSkew: 0,
      keyCache,
    });
    purser = await startPurser({
      token: { issuer: 'purser', service: SERVICE, key: keys.key, certificate: keys.crt },
      auth: { anonymous: false, failedLogins: { max: 100_000 } },
      log: { level: 'debug' },
      providers: [
        provider('rot', rot.url, { cooldown: 1 }),
        provider('flood', flood.url, { cooldown: 2 }),
        provider('flood30', flood30.url, { cooldown: 30 }),
        provider('down', downIss.url, { cooldown: 1 }),
        provider('hang', hang.url, { cooldown: 0, timeout: 1 }),
        provider('dead', deadUrl, { cooldown: 1, timeout: 1 }),
      ],
      acl: [{ match: { type: 'repository', name: 'acme/app' }, actions: ['pull'] }],
    });
    await waitFor(
      () => [rot, flood, flood30, downIss].every((i) => i.hits.jwks >= 1),
      'Purser to fetch every JWKS at start-up',
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}: ${JSON.stringify([rot, flood, flood30, downIss].map((i) => i.hits))}\n${purser?.logs()}`,
      );
    });
  });
  after(async () => {
    await purser?.stop();
    await Promise.all([rot, flood, flood30, downIss].map((i) => i?.close()));
    await hang?.close();
    removeDir(dir);
  });

  test(
    'rotation: a token by a new key is accepted after exactly one refetch',
    withLogs(logs, async () => {
      await accepted('rot', await rot.sign(claimsFor(rot.url)));
      await sleep(1_100); // past the cooldown of the start-up fetch
      const oldKey = rot.current;
      await rot.rotate('RS256');
      rot.resetHits();
      await accepted('rot', await rot.sign(claimsFor(rot.url)));
      assert.equal(rot.hits.jwks, 1, 'one JWKS refetch for the new kid');
      await accepted('rot', await rot.sign(claimsFor(rot.url)));
      await accepted('rot', await rot.sign(claimsFor(rot.url), { key: rot.current }));
      assert.equal(rot.hits.jwks, 1, 'the new key is cached');
      // The old key is no longer published: its tokens are refused.
      const r = await login('rot', await signWith(oldKey, claimsFor(rot.url)));
      assert.equal(r.status, 401);
      assert.match(errorMessage(r.body), /does not publish/);
    }),
  );

  test(
    'a flood of 50 random kids causes at most one refetch per cooldown',
    withLogs(logs, async () => {
      // cooldown 30: the start-up fetch was moments ago, so no refetch at all.
      flood30.resetHits();
      const tokens30 = await Promise.all(
        Array.from({ length: 50 }, async () =>
          signWith(await makeKey('ES256', randomKid('rnd')), claimsFor(flood30.url)),
        ),
      );
      const r30 = await Promise.all(tokens30.map((t) => login('flood30', t)));
      assert.ok(r30.every((r) => r.status === 401 && /does not publish/.test(errorMessage(r.body))));
      assert.ok(flood30.hits.jwks <= 1, `JWKS fetched ${flood30.hits.jwks} times`);

      // cooldown 2: once the cooldown has passed, the whole flood shares one refetch.
      await sleep(2_100);
      flood.resetHits();
      const tokens = await Promise.all(
        Array.from({ length: 50 }, async () =>
          signWith(await makeKey('ES256', randomKid('rnd')), claimsFor(flood.url)),
        ),
      );
      const rs = await Promise.all(tokens.map((t) => login('flood', t)));
      assert.ok(
        rs.every((r) => r.status === 401),
        rs.map((r) => r.status).join(','),
      );
      assert.ok(flood.hits.jwks <= 1, `JWKS fetched ${flood.hits.jwks} times for the first flood`);
      const first = flood.hits.jwks;
      // A second flood within the cooldown: nothing more.
      const rs2 = await Promise.all(tokens.map((t) => login('flood', t)));
      assert.ok(rs2.every((r) => r.status === 401));
      assert.equal(flood.hits.jwks, first, 'no refetch within the cooldown');
      // Good tokens kept working throughout.
      await accepted('flood', await flood.sign(claimsFor(flood.url)));
    }),
  );

  test(
    'issuer down with warm keys: logins keep working',
    withLogs(logs, async () => {
      const jwt = await downIss.sign(claimsFor(downIss.url));
      await accepted('down', jwt);
      await downIss.down();
      try {
        await sleep(1_100); // past the cooldown: an unknown kid would try (and fail) to refetch
        for (let i = 0; i < 5; i++) await accepted('down', await downIss.sign(claimsFor(downIss.url)));
        const es = await downIss.sign(claimsFor(downIss.url), { key: downIss.keyFor('ES256') });
        await accepted('down', es);
        // An unknown kid while the issuer is down: refused (401), and good tokens still pass.
        const rogue = await signWith(await makeKey('ES256'), claimsFor(downIss.url));
        const r = await login('down', rogue);
        assert.equal(r.status, 401, JSON.stringify(r.body));
        await accepted('down', jwt);
      } finally {
        await downIss.up();
      }
    }),
  );

  test(
    'issuer never reachable (closed port): a clear 503, quickly',
    withLogs(logs, async () => {
      const jwt = await signWith(await makeKey('RS256'), claimsFor(deadUrl));
      for (let i = 0; i < 2; i++) {
        const r = await login('dead', jwt);
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.match(errorMessage(r.body), /identity provider dead is unreachable/);
        assert.ok(r.ms < 3_000, `took ${r.ms} ms`);
        await sleep(1_100);
      }
    }),
  );

  test(
    'hanging issuer (accepts, never answers): 503 within the 1 s fetch timeout, no hang',
    withLogs(logs, async () => {
      const jwt = await signWith(await makeKey('RS256'), claimsFor(hang.url));
      const rs = await Promise.all([login('hang', jwt), login('hang', jwt), login('hang', jwt)]);
      for (const r of rs) {
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.match(errorMessage(r.body), /identity provider hang is unreachable/);
        assert.ok(r.ms < 3_000, `took ${r.ms} ms`);
      }
      assert.ok(hang.connections() >= 1, 'Purser did try the issuer');
      assert.match(purser!.logs(), /fetching issuer keys failed[^\n]*timed out after 1000 ms/);
    }),
  );

  test(
    'failed fetches are counted in the metrics',
    withLogs(logs, async () => {
      const m = await (await fetch(`${purser!.url}/metrics`)).text();
      assert.ok(
        metric(m, 'purser_oidc_fetches_total', { provider: 'dead', kind: 'discovery', outcome: 'error' }) >=
          1,
        m,
      );
      assert.ok(
        metric(m, 'purser_oidc_fetches_total', { provider: 'hang', kind: 'discovery', outcome: 'error' }) >=
          1,
        m,
      );
      assert.ok(
        metric(m, 'purser_oidc_fetches_total', { provider: 'rot', kind: 'jwks', outcome: 'ok' }) >= 2,
        m,
      );
      // The key age is known for an issuer whose keys were fetched, absent for one never reached.
      assert.ok(/^purser_oidc_jwks_age_seconds\{provider="rot"\} [0-9.e+-]+$/m.test(m), m);
      assert.ok(!m.includes('purser_oidc_jwks_age_seconds{provider="dead"}'), m);
    }),
  );

  test(
    'a 503 (issuer unreachable) is not counted as a bad request',
    withLogs(logs, async () => {
      const m = await (await fetch(`${purser!.url}/metrics`)).text();
      assert.equal(metric(m, 'purser_token_requests_total', { grant: 'get', outcome: 'bad_request' }), 0, m);
    }),
  );
});

// An issuer that answers with an HTTP error (503 during an outage, 404 for a moved JWKS).
describe('issuer answering an HTTP error', { timeout: 30_000 }, () => {
  test('a 503 from discovery: Purser keeps running, answers a clear 503, logs the URL and reason, counts it, then recovers', async () => {
    const unavail = await TestIssuer.start({ mode: 'unavailable' });
    const dir = makeTempDir('purser-oidc-503-');
    let purser: Purser | undefined;
    try {
      const keys = await generateKeys(dir, 'ES256');
      purser = await startPurser({
        token: { issuer: 'purser', service: SERVICE, key: keys.key, certificate: keys.crt },
        auth: { anonymous: false, failedLogins: { max: 100_000 } },
        providers: [
          { name: 'unavail', issuer: unavail.url, audience: AUD, keyCache: { cooldown: 1, timeout: 1 } },
        ],
        acl: [{ match: { type: 'repository', name: 'acme/app' }, actions: ['pull'] }],
      });
      await waitFor(() => unavail.hits.discovery >= 1, 'the start-up fetch');
      await sleep(1_100);
      assert.ok(
        purser.proc.isRunning(),
        `Purser exited after an HTTP 503 from the issuer:\n${purser.logs()}`,
      );
      const jwt = await unavail.sign(claimsFor(unavail.url));
      const r = await tokenRequest(
        purser.url,
        { username: 'unavail', password: jwt },
        { service: SERVICE, scope: SCOPE },
      );
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.match(errorMessage(r.body), /identity provider unavail is unreachable/);
      assert.ok(!errorMessage(r.body).includes(unavail.url), 'the client is not told internal URLs');
      assert.ok(
        purser
          .logs()
          .split('\n')
          .some(
            (l) =>
              l.includes('fetching issuer keys failed') &&
              l.includes(`${unavail.url}/.well-known/openid-configuration`) &&
              l.includes('HTTP 503'),
          ),
        'a log line with the discovery URL and "HTTP 503"',
      );
      const m = await (await fetch(`${purser.url}/metrics`)).text();
      assert.ok(
        metric(m, 'purser_oidc_fetches_total', {
          provider: 'unavail',
          kind: 'discovery',
          outcome: 'error',
        }) >= 1,
        m,
      );
      unavail.mode = 'up';
      await sleep(1_100);
      const ok = await tokenRequest(
        purser.url,
        { username: 'unavail', password: jwt },
        { service: SERVICE, scope: SCOPE },
      );
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    } finally {
      await purser?.stop();
      await unavail.close();
      removeDir(dir);
    }
  });
});

function claimsFor(iss: string) {
  return { iss, aud: AUD, sub: 'ci', repository: 'acme/app', iat: now(), exp: now() + 300 };
}

/** The value of a Prometheus sample with (at least) these labels; 0 when absent. */
function metric(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    const have = new Map(body.split(',').map((kv) => kv.split('=') as [string, string]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === JSON.stringify(v)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
