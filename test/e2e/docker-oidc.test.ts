// Long CI jobs: the docker daemon logs in once with a short-lived CI JWT, keeps Purser's
// refresh token as its identity token, and still pushes after the JWT has expired.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mountsUnder } from '../helpers/containerd.js';
import {
  type Dockerd,
  dockerArchive,
  dockerdUnavailable,
  settledTokenRequests,
  startDockerd,
} from '../helpers/dockerd.js';
import { now, TestIssuer } from '../helpers/issuer.js';
import { describeRun } from '../helpers/proc.js';
import { generateKeys, type Purser, startPurser } from '../helpers/purser.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const SERVICE = 'registry.test';
const JWT_LIFETIME = 6;

describe('docker login with a CI JWT outlives the JWT through the refresh token', {
  skip: dockerdUnavailable(),
  timeout: 150_000,
}, () => {
  let dir = '';
  let daemonDir = '';
  let issuer: TestIssuer | undefined;
  let purser: Purser | undefined;
  let registry: Registry | undefined;
  let dockerd: Dockerd | undefined;
  let host = '';
  let jwt = '';
  let jwtExp = 0;

  const p = (): Purser => {
    assert.ok(purser, 'purser did not start');
    return purser;
  };
  const d = (): Dockerd => {
    assert.ok(dockerd, 'dockerd did not start');
    return dockerd;
  };
  const context = (mark: number): string =>
    `--- purser log since the command\n${p().logs().slice(mark)}\n--- registry log (tail)\n${registry?.logs().slice(-2000) ?? ''}`;

  before(
    async () => {
      daemonDir = makeTempDir('purser-dockerd-oidc-');
      dir = makeTempDir('purser-docker-oidc-');
      issuer = await TestIssuer.start();
      const keys = await generateKeys(join(dir, 'keys'), 'ES256');
      purser = await startPurser(
        {
          token: { issuer: 'purser', service: SERVICE, key: keys.key, certificate: keys.crt, expiresIn: 60 },
          providers: [
            {
              name: 'github',
              preset: 'github-actions',
              issuer: issuer.url,
              audience: SERVICE,
              clockSkew: 0,
              refreshTokenLifetime: 3600,
            },
          ],
          acl: [
            {
              match: { provider: 'github', type: 'repository', name: '${claims.repository}' },
              actions: ['pull', 'push'],
            },
          ],
        },
        { dir: makeTempDir('purser-docker-oidc-srv-') },
      );
      registry = await startRegistry({
        auth: {
          mode: 'token',
          realm: purser.realm,
          service: SERVICE,
          issuer: 'purser',
          rootcertbundle: keys.crt,
        },
      });
      host = registry.host;
      dockerd = await startDockerd(daemonDir, { insecureRegistries: [host] });
      const image = dockerArchive([`${host}/acme/app:v1`, `${host}/other/app:v1`, `${host}/acme/app:v2`]);
      const load = await dockerd.docker(['load'], { input: image.tar, timeout: 30_000 });
      assert.equal(load.code, 0, describeRun(load));
    },
    { timeout: 90_000 },
  );

  after(
    async () => {
      for (const s of [dockerd, registry, purser]) await s?.stop().catch(() => {});
      await issuer?.close();
      if (purser) removeDir(purser.dir);
      if (dir) removeDir(dir);
      if (daemonDir && mountsUnder(daemonDir).length === 0) removeDir(daemonDir);
    },
    { timeout: 60_000 },
  );

  test('docker login with the JWT (offline_token) stores a refresh token, not the JWT', {
    timeout: 30_000,
  }, async () => {
    jwtExp = now() + JWT_LIFETIME;
    jwt = await issuer!.github({ repository: 'acme/app', aud: SERVICE, exp: jwtExp });
    const mark = p().logs().length;
    const r = await d().docker(['login', host, '-u', 'github', '--password-stdin'], {
      input: `${jwt}\n`,
      timeout: 20_000,
    });
    assert.equal(r.code, 0, `${describeRun(r)}\n${context(mark)}`);
    const text = readFileSync(join(d().configDir, 'config.json'), 'utf8');
    const entry = (JSON.parse(text) as { auths?: Record<string, { identitytoken?: string }> }).auths?.[host];
    assert.ok(entry?.identitytoken, `no identitytoken stored:\n${text}`);
    assert.ok(!text.includes(jwt), 'the CI JWT itself was stored');
    const reqs = await settledTokenRequests(() => p().logs(), mark);
    assert.ok(
      reqs.some((q) => q.method === 'GET' && q.status === 200),
      `no successful GET /token for the login:\n${context(mark)}`,
    );
  });

  test('after the JWT has expired, the JWT itself is refused but docker push still works', {
    timeout: 60_000,
  }, async () => {
    const wait = (jwtExp + 1) * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // The JWT is dead now: a direct login with it is refused as expired.
    const mark0 = p().logs().length;
    const direct = await fetch(`${p().url}/token?service=${SERVICE}&scope=repository:acme/app:push`, {
      headers: { authorization: `Basic ${Buffer.from(`github:${jwt}`).toString('base64')}` },
    });
    assert.equal(direct.status, 401);
    assert.match(JSON.stringify(await direct.json()), /expired/);
    await settledTokenRequests(() => p().logs(), mark0); // let that request's log line arrive first

    const mark = p().logs().length;
    const r = await d().docker(['push', `${host}/acme/app:v1`], { timeout: 40_000 });
    assert.equal(r.code, 0, `${describeRun(r)}\n${context(mark)}`);
    const reqs = await settledTokenRequests(() => p().logs(), mark);
    assert.ok(reqs.length > 0, context(mark));
    for (const q of reqs) {
      assert.equal(q.method, 'POST', `expected only refresh grants:\n${context(mark)}`);
      assert.equal(q.grantType, 'refresh_token', `expected only refresh grants:\n${context(mark)}`);
    }
  });

  test('the refresh token carries the JWT identity: another repository is still denied', {
    timeout: 60_000,
  }, async () => {
    const mark = p().logs().length;
    const r = await d().docker(['push', `${host}/other/app:v1`], { timeout: 40_000 });
    assert.notEqual(r.code, 0, `push to other/app succeeded:\n${describeRun(r)}\n${context(mark)}`);
    assert.match(`${r.stdout}${r.stderr}`, /denied|unauthorized|authentication required/i, describeRun(r));
  });
});
