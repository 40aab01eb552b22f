// The CLI with OIDC providers: `purser check --jwt` explains a decision; `purser serve` refuses
// invalid provider and CEL configuration with exit 2 and a message naming the key.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { now, TestIssuer } from '../helpers/issuer.js';
import { purserBin, repoRoot } from '../helpers/paths.js';
import { describeRun, run } from '../helpers/proc.js';
import { generateKeys, type KeyPair } from '../helpers/purser.js';
import { SERVICE } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const AUD = 'registry.test';

describe('purser check --jwt and provider config errors', { timeout: 60_000 }, () => {
  let issuer: TestIssuer;
  let dir: string;
  let keys: KeyPair;
  let n = 0;

  const purser = (args: string[], timeout = 20_000) =>
    run(process.execPath, [purserBin, ...args], { cwd: repoRoot, timeout });
  function writeConfig(cfg: Record<string, unknown>): string {
    const p = join(dir, `purser-${++n}.yml`);
    writeFileSync(
      p,
      stringify({
        listen: '127.0.0.1:0',
        token: { issuer: 'purser', service: SERVICE, key: keys.key },
        ...cfg,
      }),
    );
    return p;
  }
  function writeJwt(jwt: string): string {
    const p = join(dir, `jwt-${++n}.txt`);
    writeFileSync(p, `${jwt}\n`);
    return p;
  }
  const github = () => ({
    name: 'github',
    issuer: issuer.url,
    audience: AUD,
    account: '"gh/" + claims.repository',
    when: 'claims.repository_owner == "acme"',
    clockSkew: 0,
  });
  const acl: Record<string, unknown>[] = [
    { match: { account: 'admin' }, actions: ['*'], comment: 'admins' },
    {
      match: { provider: 'github', type: 'repository', name: '${claims.repository}' },
      when: 'claims.ref == "refs/heads/main" || request.actions == ["pull"]',
      actions: ['pull', 'push'],
      comment: 'main pushes its own repository',
    },
    { match: { provider: 'github', type: 'repository', name: '${claims.repository}' }, actions: ['pull'] },
  ];

  before(async () => {
    issuer = await TestIssuer.start();
    dir = makeTempDir('purser-oidc-cli-');
    keys = await generateKeys(dir, 'ES256');
  });
  after(async () => {
    await issuer?.close();
    removeDir(dir);
  });

  test('check --jwt: the provider chosen, each verification step, the identity and the deciding rule', async () => {
    const cfg = writeConfig({ providers: [github()], acl });
    const jwt = writeJwt(await issuer.github({ repository: 'acme/app', aud: AUD }));
    const r = await purser(['check', '--config', cfg, '--jwt', jwt, '--scope', 'repository:acme/app:push']);
    assert.equal(r.code, 0, describeRun(r));
    const out = r.stdout;
    assert.match(out, /provider: github \(chosen by the token's iss/);
    assert.match(out, /signature: verified/);
    assert.match(out, /claims: iss, aud, exp/);
    assert.match(out, /when: claims\.repository_owner == "acme" → true/);
    assert.match(out, /account: .* → "gh\/acme\/app"/);
    assert.match(out, /gh\/acme\/app \[github\]/);
    assert.match(out, /push\s+granted by acl\[1\]/);
    assert.match(out, /access:\s+\[\{"type":"repository","name":"acme\/app","actions":\["push"\]\}\]/);
  });

  test('check --jwt: a feature branch is decided by the pull-only rule; other repositories by no rule', async () => {
    const cfg = writeConfig({ providers: [github()], acl });
    const jwt = writeJwt(
      await issuer.github({ repository: 'acme/app', ref: 'refs/heads/feature', aud: AUD }),
    );
    const r = await purser([
      'check',
      '--config',
      cfg,
      '--jwt',
      jwt,
      '--scope',
      'repository:acme/app:pull,push',
      '--scope',
      'repository:other/app:pull',
    ]);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /pull\s+granted by acl\[2\]/);
    assert.match(r.stdout, /push\s+DENIED: acl\[2\]/);
    assert.match(r.stdout, /repository:other\/app:pull\n\s+pull\s+DENIED: no rule matched/);
  });

  test('check --jwt --json', async () => {
    const cfg = writeConfig({ providers: [github()], acl });
    const jwt = writeJwt(await issuer.github({ repository: 'acme/app', aud: AUD }));
    const r = await purser([
      'check',
      '--config',
      cfg,
      '--jwt',
      jwt,
      '--scope',
      'repository:acme/app:push',
      '--json',
    ]);
    assert.equal(r.code, 0, describeRun(r));
    const j = JSON.parse(r.stdout) as {
      identity: { account: string; provider: string };
      verification: string[];
      decisions: { scope: string; rule: string | null; granted: string[]; explanation: string }[];
    };
    assert.deepEqual(j.identity.account, 'gh/acme/app');
    assert.equal(j.identity.provider, 'github');
    assert.ok(j.verification.some((l) => /signature: verified/.test(l)));
    assert.equal(j.decisions.length, 1);
    assert.deepEqual(
      { ...j.decisions[0]!, explanation: undefined },
      { scope: 'repository:acme/app:push', rule: 'acl[1]', granted: ['push'], explanation: undefined },
    );
    assert.match(j.decisions[0]!.explanation, /acl\[1\]/);
  });

  test('check --jwt with an expired JWT: non-zero exit naming the reason', async () => {
    const cfg = writeConfig({ providers: [github()], acl });
    const jwt = writeJwt(
      await issuer.github({ repository: 'acme/app', aud: AUD, iat: now() - 600, exp: now() - 60 }),
    );
    const r = await purser(['check', '--config', cfg, '--jwt', jwt, '--scope', 'repository:acme/app:push']);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.equal(r.timedOut, false);
    assert.match(r.stderr, /authentication failed: github: token expired/);
    assert.match(r.stderr, /provider: github/);
  });

  test("check --jwt with the provider's when false: non-zero exit naming the condition", async () => {
    const cfg = writeConfig({ providers: [github()], acl });
    const jwt = writeJwt(await issuer.github({ repository: 'evil/app', aud: AUD }));
    const r = await purser(['check', '--config', cfg, '--jwt', jwt, '--scope', 'repository:evil/app:pull']);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /when: claims\.repository_owner == "acme" → false/);
    assert.match(r.stderr, /condition/);
  });

  test('check --jwt with an unreachable issuer: fails within the fetch timeout', async () => {
    const cfg = writeConfig({
      providers: [{ ...github(), issuer: 'http://127.0.0.1:9', keyCache: { timeout: 1 } }],
      acl,
    });
    const jwt = writeJwt(
      await issuer.github({ repository: 'acme/app', aud: AUD, iss: 'http://127.0.0.1:9' }),
    );
    const started = Date.now();
    const r = await purser(['check', '--config', cfg, '--jwt', jwt, '--scope', 'repository:acme/app:pull']);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.ok(Date.now() - started < 10_000);
    assert.match(r.stderr, /unreachable/);
  });

  /** `serve` with a bad config: exit 2 and stderr naming the key. */
  async function serveFails(cfg: Record<string, unknown>, key: RegExp, why?: RegExp): Promise<void> {
    const r = await purser(['serve', '--config', writeConfig(cfg)], 15_000);
    assert.equal(r.timedOut, false, `serve started instead of refusing the config\n${describeRun(r)}`);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, key, describeRun(r));
    if (why) assert.match(r.stderr, why, describeRun(r));
    assert.ok(r.stderr.trim().split('\n').length <= 2, `one clear line expected:\n${r.stderr}`);
  }

  test('config error: http:// issuer on a non-loopback address', async () => {
    await serveFails(
      { providers: [{ ...github(), issuer: 'http://issuer.example.com' }], acl },
      /providers\[0\]\.issuer/,
      /https/,
    );
    await serveFails(
      { providers: [{ ...github(), issuer: 'http://10.0.0.1:8080' }], acl },
      /providers\[0\]\.issuer/,
    );
    await serveFails(
      { providers: [{ ...github(), jwksUri: 'http://10.0.0.1/jwks' }], acl },
      /providers\[0\]\.jwksUri/,
    );
  });

  test('config error: an ACL when with a CEL syntax error names acl[i].when', async () => {
    const bad = [...acl];
    bad[1] = { ...acl[1]!, when: 'claims.ref == "refs/heads/main" ||' };
    await serveFails({ providers: [github()], acl: bad }, /acl\[1\]\.when/, /syntax/);
  });

  test('config error: an ACL when that is not a bool', async () => {
    const bad = [...acl];
    bad[2] = { ...acl[2]!, when: 'claims.ref' };
    // claims.ref is dyn: accepted at load, a runtime check; a literal non-bool is refused.
    bad[1] = { ...acl[1]!, when: '"main"' };
    await serveFails({ providers: [github()], acl: bad }, /acl\[1\]\.when/, /bool/);
  });

  test('config error: a provider account with a type error', async () => {
    await serveFails(
      { providers: [{ ...github(), account: '1 + 2' }], acl },
      /providers\[0\]\.account/,
      /string/,
    );
    await serveFails(
      { providers: [{ ...github(), account: 'claims.x + 1 == "a"' }], acl },
      /providers\[0\]\.account/,
      /type error/,
    );
    await serveFails(
      { providers: [{ ...github(), when: 'claims.x ==' }], acl },
      /providers\[0\]\.when/,
      /syntax/,
    );
    await serveFails(
      { providers: [{ ...github(), when: 'request.name == "x"' }], acl },
      /providers\[0\]\.when/,
    );
  });

  test('config error: two providers with the same issuer and overlapping audience', async () => {
    await serveFails(
      {
        providers: [
          { ...github(), audience: ['a.test', AUD] },
          { ...github(), name: 'github2', audience: [AUD, 'c.test'] },
        ],
        acl,
      },
      /providers\[1\]/,
      /same issuer and audience/,
    );
  });

  test('config error: a preset without the issuer it needs, an unknown preset, a non-asymmetric algorithm', async () => {
    await serveFails(
      { providers: [{ name: 'k8s', preset: 'kubernetes', audience: AUD }], acl },
      /providers\[0\]\.issuer/,
    );
    await serveFails(
      { providers: [{ name: 'x', preset: 'jenkins', issuer: issuer.url, audience: AUD }], acl },
      /providers\[0\]\.preset/,
    );
    await serveFails(
      { providers: [{ ...github(), algorithms: ['HS256'] }], acl },
      /providers\[0\]\.algorithms/,
    );
    await serveFails(
      { providers: [{ ...github(), algorithms: ['none'] }], acl },
      /providers\[0\]\.algorithms/,
    );
  });

  test('config error: unknown placeholders in a match naming a provider rule', async () => {
    const bad = [{ match: { provider: 'github', name: '${claim.repository}' }, actions: ['pull'] }];
    await serveFails({ providers: [github()], acl: bad }, /acl\[0\]\.match\.name/, /placeholder/);
  });

  test('control: the same configuration with good values starts (and an unreachable issuer does not stop start-up)', async () => {
    const cfg = writeConfig({
      providers: [
        github(),
        { name: 'dead', issuer: 'http://127.0.0.1:9', audience: AUD, keyCache: { timeout: 1 } },
      ],
      acl,
    });
    const { startProcess } = await import('../helpers/proc.js');
    // One process: this is about the providers, and workers only slow the start on a busy CI.
    const p = startProcess(process.execPath, [purserBin, 'serve', '--config', cfg, '--workers', '1'], {
      cwd: repoRoot,
      name: 'purser serve',
    });
    try {
      await p.waitForLine(/"msg":"listening"/, 15_000);
    } finally {
      await p.stop(3_000);
    }
  });
});
