// The docker daemon (Debian's docker.io 20.10) against distribution 2.8 with Purser as its
// token server: login stores Purser's refresh token, and push and pull then use it.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mountsUnder } from '../helpers/containerd.js';
import {
  type Dockerd,
  dockerArchive,
  dockerdUnavailable,
  readDockerConfig,
  settledTokenRequests,
  startDockerd,
  type TokenRequestLog,
} from '../helpers/dockerd.js';
import { describeRun } from '../helpers/proc.js';
import { generateKeys, type Purser, startPurser } from '../helpers/purser.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const SERVICE = 'registry.local';
const ISSUER = 'purser';
const PASSWORD = 'alice-pw';
const WRONG = 'not-the-password';

function show(reqs: TokenRequestLog[]): string {
  return reqs.map((r) => JSON.stringify(r.raw)).join('\n');
}

describe('docker daemon with Purser as token server', {
  skip: dockerdUnavailable(),
  timeout: 120_000,
}, () => {
  let dir = '';
  /** The daemon's own temp dir (its mounts live here, apart from the rest). */
  let daemonDir = '';
  let purser: Purser | undefined;
  let registry: Registry | undefined;
  let dockerd: Dockerd | undefined;
  let host = '';
  let ref = '';
  let imageId = '';
  let identityToken = '';

  const d = (): Dockerd => {
    assert.ok(dockerd, 'dockerd did not start');
    return dockerd;
  };
  const p = (): Purser => {
    assert.ok(purser, 'purser did not start');
    return purser;
  };
  /** Token requests Purser logged since the log had `mark` characters. */
  const since = (mark: number): Promise<TokenRequestLog[]> => settledTokenRequests(() => p().logs(), mark);
  const context = (mark: number): string =>
    `--- purser log since the command\n${p().logs().slice(mark)}\n--- registry log (tail)\n${registry?.logs().slice(-3000) ?? ''}`;

  before(
    async () => {
      daemonDir = makeTempDir('purser-dockerd-');
      dir = makeTempDir('purser-docker-');
      const keys = await generateKeys(join(dir, 'keys'), 'ES256');
      purser = await startPurser(
        {
          token: { issuer: ISSUER, service: SERVICE, key: keys.key, certificate: keys.crt, expiresIn: 300 },
          users: { alice: { password: PASSWORD } },
          acl: [{ match: { account: 'alice' }, actions: ['*'] }],
        },
        { dir: makeTempDir('purser-docker-srv-') },
      );
      registry = await startRegistry({
        auth: {
          mode: 'token',
          realm: purser.realm,
          service: SERVICE,
          issuer: ISSUER,
          rootcertbundle: keys.crt,
        },
      });
      host = registry.host;
      ref = `${host}/team/app:v1`;
      // The registry's port must be known before dockerd starts (--insecure-registry).
      dockerd = await startDockerd(daemonDir, { insecureRegistries: [host] });
      const image = dockerArchive([ref]);
      imageId = image.imageId;
      const load = await dockerd.docker(['load'], { input: image.tar, timeout: 30_000 });
      assert.equal(load.code, 0, describeRun(load));
    },
    { timeout: 90_000 },
  );

  after(
    async () => {
      const errors: unknown[] = [];
      for (const s of [dockerd, registry, purser]) {
        try {
          await s?.stop();
        } catch (e) {
          errors.push(e);
        }
      }
      if (purser) removeDir(purser.dir);
      if (dir) removeDir(dir);
      if (daemonDir) {
        const leaked = mountsUnder(daemonDir);
        if (leaked.length === 0) removeDir(daemonDir);
        else errors.push(new Error(`mounts left under ${daemonDir}: ${leaked.join(', ')}`));
      }
      if (errors.length) throw errors[0];
    },
    { timeout: 60_000 },
  );

  test('login with a wrong password fails and stores nothing', { timeout: 30_000 }, async () => {
    const mark = p().logs().length;
    const r = await d().docker(['login', host, '-u', 'alice', '--password-stdin'], {
      input: `${WRONG}\n`,
      timeout: 20_000,
    });
    assert.notEqual(r.code, 0, `login with a wrong password succeeded:\n${describeRun(r)}\n${context(mark)}`);
    assert.match(r.stderr, /unauthori[sz]ed|401|incorrect|denied/i, describeRun(r));
    const auths = (readDockerConfig(d().configDir).auths ?? {}) as Record<string, unknown>;
    assert.equal(auths[host], undefined, 'a failed login left credentials in config.json');
    const reqs = await since(mark);
    assert.ok(reqs.length > 0, `Purser logged no token request for the failed login\n${context(mark)}`);
    for (const q of reqs) if (q.status !== undefined) assert.equal(q.status, 401, show(reqs));
  });

  test('login stores an identity token, not the password', { timeout: 30_000 }, async () => {
    const mark = p().logs().length;
    const r = await d().docker(['login', host, '-u', 'alice', '--password-stdin'], {
      input: `${PASSWORD}\n`,
      timeout: 20_000,
    });
    assert.equal(r.code, 0, `${describeRun(r)}\n${context(mark)}`);
    const text = readFileSync(join(d().configDir, 'config.json'), 'utf8');
    const config = JSON.parse(text) as {
      auths?: Record<string, { auth?: string; identitytoken?: string }>;
      credsStore?: string;
    };
    assert.equal(
      config.credsStore,
      undefined,
      `docker used a credential helper; the test needs the file store:\n${text}`,
    );
    const entry = config.auths?.[host];
    assert.ok(entry, `no entry for ${host} in config.json:\n${text}`);
    assert.equal(
      typeof entry.identitytoken,
      'string',
      `no identitytoken for ${host} in config.json:\n${text}`,
    );
    identityToken = entry.identitytoken ?? '';
    assert.ok(identityToken.length > 0);
    assert.ok(!text.includes(PASSWORD), 'config.json holds the password in clear');
    assert.ok(
      !text.includes(Buffer.from(`alice:${PASSWORD}`).toString('base64')),
      'config.json holds the password',
    );
    if (entry.auth !== undefined) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      assert.ok(!decoded.includes(PASSWORD), 'the auth field holds the password');
    }
    // Login asks GET /token with offline_token=true and gets the refresh token there.
    const reqs = await since(mark);
    assert.ok(reqs.length > 0, `Purser logged no token request for the login\n${context(mark)}`);
    assert.ok(
      reqs.some((q) => q.method === 'GET'),
      `expected docker login to use GET /token:\n${show(reqs)}`,
    );
  });

  /** Every token request in the window is POST grant_type=refresh_token (and there is one). */
  const assertRefreshOnly = async (mark: number, what: string): Promise<void> => {
    const reqs = await since(mark);
    assert.ok(reqs.length > 0, `Purser logged no token request for ${what}\n${context(mark)}`);
    for (const q of reqs) {
      assert.equal(q.method, 'POST', `${what}: expected POST /token, got:\n${show(reqs)}`);
      assert.equal(
        q.grantType,
        'refresh_token',
        `${what}: expected grant_type=refresh_token, got:\n${show(reqs)}`,
      );
      if (q.status !== undefined) assert.equal(q.status, 200, show(reqs));
    }
  };

  test('push uses the refresh token (POST grant_type=refresh_token)', { timeout: 45_000 }, async () => {
    const mark = p().logs().length;
    const r = await d().docker(['push', ref], { timeout: 40_000 });
    assert.equal(r.code, 0, `${describeRun(r)}\n${context(mark)}`);
    assert.match(r.stdout, /digest: sha256:[0-9a-f]{64}/, describeRun(r));
    await assertRefreshOnly(mark, 'docker push');
    const logged = JSON.stringify((await since(mark)).map((q) => q.raw));
    assert.match(
      logged,
      /repository:team\/app:(push,pull|pull,push)/,
      `push scope not requested:\n${logged}`,
    );
  });

  test('pull uses the refresh token (POST grant_type=refresh_token)', { timeout: 45_000 }, async () => {
    const rmi = await d().docker(['rmi', ref], { timeout: 20_000 });
    assert.equal(rmi.code, 0, describeRun(rmi));
    const mark = p().logs().length;
    const r = await d().docker(['pull', ref], { timeout: 40_000 });
    assert.equal(r.code, 0, `${describeRun(r)}\n${context(mark)}`);
    const inspect = await d().docker(['image', 'inspect', '-f', '{{.Id}}', ref], { timeout: 20_000 });
    assert.equal(inspect.code, 0, describeRun(inspect));
    assert.equal(inspect.stdout.trim(), imageId, 'the pulled image is not the one pushed');
    await assertRefreshOnly(mark, 'docker pull');
  });

  test('a forged identity token is refused', { timeout: 45_000 }, async () => {
    const file = join(d().configDir, 'config.json');
    const saved = readFileSync(file, 'utf8');
    const config = JSON.parse(saved) as { auths: Record<string, { identitytoken?: string }> };
    const entry = config.auths[host];
    assert.ok(entry?.identitytoken, 'no identitytoken to forge');
    // One character changed in the middle: whatever its format, the token no longer verifies.
    const t = entry.identitytoken;
    const i = Math.floor(t.length / 2);
    entry.identitytoken = `${t.slice(0, i)}${t[i] === 'A' ? 'B' : 'A'}${t.slice(i + 1)}`;
    writeFileSync(file, JSON.stringify(config));
    try {
      const rmi = await d().docker(['rmi', ref], { timeout: 20_000 });
      assert.equal(rmi.code, 0, describeRun(rmi));
      const mark = p().logs().length;
      const r = await d().docker(['pull', ref], { timeout: 40_000 });
      assert.notEqual(
        r.code,
        0,
        `pull with a forged identity token succeeded:\n${describeRun(r)}\n${context(mark)}`,
      );
      const reqs = await since(mark);
      const first = reqs[0];
      assert.ok(first, `Purser logged no token request\n${context(mark)}`);
      assert.equal(first.method, 'POST', show(reqs));
      assert.equal(first.grantType, 'refresh_token', show(reqs));
      for (const q of reqs) if (q.status !== undefined) assert.equal(q.status, 401, show(reqs));
      assert.ok(!p().logs().includes(entry.identitytoken), 'Purser logged the refresh token it refused');
    } finally {
      writeFileSync(file, saved);
    }
  });

  test('Purser never logs the password or the refresh token', () => {
    const logs = p().logs();
    assert.ok(identityToken.length > 0, 'no identity token was stored');
    assert.ok(!logs.includes(PASSWORD), "the password is in Purser's log");
    assert.ok(!logs.includes(WRONG), "a wrong password is in Purser's log");
    assert.ok(!logs.includes(identityToken), "the refresh token is in Purser's log");
  });

  test('after logout, pull is refused (no anonymous rule)', { timeout: 45_000 }, async () => {
    const out = await d().docker(['logout', host], { timeout: 20_000 });
    assert.equal(out.code, 0, describeRun(out));
    const auths = (readDockerConfig(d().configDir).auths ?? {}) as Record<string, unknown>;
    assert.equal(auths[host], undefined, 'logout left credentials in config.json');
    const mark = p().logs().length;
    const r = await d().docker(['pull', ref], { timeout: 40_000 });
    assert.notEqual(r.code, 0, `anonymous pull succeeded:\n${describeRun(r)}\n${context(mark)}`);
    assert.match(r.stderr, /unauthori[sz]ed|denied|authentication required/i, describeRun(r));
    // Anonymous: GET /token without credentials, answered with a token that grants nothing.
    const reqs = await since(mark);
    assert.ok(reqs.length > 0, `Purser logged no token request\n${context(mark)}`);
    for (const q of reqs) {
      assert.equal(q.method, 'GET', show(reqs));
      assert.equal(q.grantType, undefined, show(reqs));
    }
  });
});
