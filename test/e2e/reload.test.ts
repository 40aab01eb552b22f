// Hot reload (SIGHUP) and refresh tokens: a refresh re-runs the ACL, so a permission revoked
// in the configuration is gone at the next refresh; a changed password revokes refresh
// tokens; a broken configuration is refused and the previous one keeps serving.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { generateKeys, type KeyPair, type Purser, startPurser } from '../helpers/purser.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

function config(keys: KeyPair, alicePassword: string, aliceActions: string[]): Record<string, unknown> {
  return {
    listen: '127.0.0.1:0',
    token: { issuer: 'purser', service: 'registry.test', key: keys.key, certificate: keys.crt },
    users: { alice: { password: alicePassword } },
    acl: [{ match: { account: 'alice', name: 'team/*' }, actions: aliceActions }],
  };
}

function accessOf(token: string): { type: string; name: string; actions: string[] }[] {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
  return payload.access;
}

async function refresh(url: string, refreshToken: string): Promise<Response> {
  return fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      service: 'registry.test',
      scope: 'repository:team/app:push,pull',
      client_id: 'docker',
    }),
  });
}

describe('configuration reload (SIGHUP) and refresh tokens', () => {
  let dir: string;
  let keys: KeyPair;
  let purser: Purser;
  let refreshToken: string;

  const reload = async (cfg: Record<string, unknown>, expect: RegExp) => {
    const before = purser
      .logs()
      .split('\n')
      .filter((l) => expect.test(l)).length;
    writeFileSync(purser.configPath, stringify(cfg));
    purser.proc.child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (
      purser
        .logs()
        .split('\n')
        .filter((l) => expect.test(l)).length === before
    ) {
      if (Date.now() > deadline) throw new Error(`no log line matching ${expect} after SIGHUP`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    dir = makeTempDir('purser-reload-');
    keys = await generateKeys(dir, 'ES256');
    purser = await startPurser(config(keys, 'pw-1', ['pull', 'push']), { dir });
    const res = await fetch(`${purser.url}/token?service=registry.test&offline_token=true&client_id=docker`, {
      headers: { authorization: `Basic ${Buffer.from('alice:pw-1').toString('base64')}` },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { refresh_token?: string };
    assert.ok(body.refresh_token, 'a login with offline_token=true returns a refresh token');
    refreshToken = body.refresh_token;
  });

  after(async () => {
    await purser?.stop();
    if (dir) removeDir(dir);
  });

  test('the refresh grant gives what the ACL allows now, without a new refresh token', async () => {
    const res = await refresh(purser.url, refreshToken);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { token: string; refresh_token?: string };
    assert.deepEqual(accessOf(body.token), [
      { type: 'repository', name: 'team/app', actions: ['push', 'pull'] },
    ]);
    assert.equal(body.refresh_token, undefined, 'refresh tokens are not rotated');
  });

  test('a permission revoked by a reload is gone at the next refresh', async () => {
    await reload(config(keys, 'pw-1', ['pull']), /configuration reloaded/);
    const res = await refresh(purser.url, refreshToken);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { token: string };
    assert.deepEqual(accessOf(body.token), [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
  });

  test('a broken configuration is refused on reload and the previous one keeps serving', async () => {
    const broken = {
      ...config(keys, 'pw-1', ['pull']),
      acl: [{ match: { account: 'alice' }, actions: ['fly'] }],
    };
    await reload(broken, /configuration reload failed/);
    const failed = purser
      .logs()
      .split('\n')
      .filter((l) => l.includes('configuration reload failed'))
      .at(-1)!;
    assert.match(failed, /acl\[0\]\.actions\[0\]/, 'the log line names the key at fault');
    const res = await refresh(purser.url, refreshToken);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { token: string };
    assert.deepEqual(accessOf(body.token), [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
  });

  // A valid PEM through ${file:…} is the key inline since config from Secrets (issue 10 part 3);
  // the bare base64 body of the key is still key material where a path belongs.
  test('a reload failing on ${file:…} of the private key (bare base64) logs the key path, not the key', async () => {
    const cfg = config(keys, 'pw-1', ['pull']);
    const bare = `${keys.key}.b64`;
    writeFileSync(
      bare,
      readFileSync(keys.key, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'))
        .join(''),
    );
    await reload(
      { ...cfg, token: { ...(cfg.token as object), key: `\${file:${bare}}` } },
      /configuration reload failed/,
    );
    const failed = purser
      .logs()
      .split('\n')
      .filter((l) => l.includes('configuration reload failed'))
      .at(-1)!;
    assert.match(failed, /token\.key/);
    const body = readFileSync(keys.key, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'));
    assert.ok(body.length > 0);
    for (const l of body)
      assert.ok(!purser.logs().includes(l.slice(0, 20)), 'a line of the key is in the log');
    assert.doesNotMatch(purser.logs(), /PRIVATE KEY/);
  });

  test("changing the user's password revokes its refresh tokens", async () => {
    await reload(config(keys, 'pw-2', ['pull', 'push']), /configuration reloaded/);
    const res = await refresh(purser.url, refreshToken);
    assert.equal(res.status, 401);
    const body = (await res.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, 'UNAUTHORIZED');
    assert.match(body.errors[0]!.message, /password changed|log in again/);
    assert.ok(!purser.logs().includes('pw-2'), 'the new password is never logged');
  });
});
