// `purser serve` with kubernetes.configSecrets (issue 10 part 3), against the Kubernetes API
// double over HTTPS through the real @kubernetes/client-node, credentials from KUBECONFIG:
// the file holds no user and no signing key; Secrets bring the signing key (inline PEM) and a
// user, who gets a token. A Secret update replaces the user (the old one is refused); an
// invalid Secret keeps the last good config, is logged with its name and the key at fault and
// counted; a watch error recovers; deleting the Secret removes its user.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../helpers/issuer.js';
import { KubeApi } from '../helpers/kube-api/index.js';
import { purserBin } from '../helpers/paths.js';
import { run } from '../helpers/proc.js';
import { parseExposition } from '../helpers/prom-text.js';
import { generateKeys, type Purser, startPurser } from '../helpers/purser.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const NS = 'registry';
const SERVICE = 'registry.test';
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('serve: configuration from Kubernetes Secrets', () => {
  let api: KubeApi;
  let dir: string;
  let purser: Purser;
  let keyPem: string;

  const putSecret = (name: string, config: string, ns = NS) => {
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: ns, labels: { 'purser-config': 'true' } },
      data: { config: b64(config) },
    };
    const cur = api.store.get('secrets', ns, name);
    if (!cur) return api.store.create('secrets', ns, body);
    return api.store.replace('secrets', ns, name, {
      ...body,
      metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion },
    });
  };

  const tokenStatus = async (user: string, pw: string) => {
    const res = await fetch(`${purser.url}/token?service=${SERVICE}&scope=repository:team/app:pull`, {
      headers: { authorization: basic(user, pw) },
    });
    await res.body?.cancel();
    return res.status;
  };

  const lines = (re: RegExp) =>
    purser
      .logs()
      .split('\n')
      .filter((l) => re.test(l));
  const reloads = () => lines(/"msg":"configuration reloaded"/).length;
  const failures = () => lines(/"msg":"configuration reload failed/);
  const metric = async (name: string, labels: Record<string, string>) => {
    const res = await fetch(`${purser.url}/metrics`);
    return parseExposition(await res.text()).value(name, labels);
  };

  before(async () => {
    api = await KubeApi.start({ tls: true });
    dir = makeTempDir('purser-kube-secrets-');
    const keys = await generateKeys(dir, 'ES256');
    keyPem = readFileSync(keys.key, 'utf8');
    // The signing key is in a Secret, inline: the file names no key file.
    putSecret('a-signing', `token:\n  key: |\n${keyPem.replace(/^/gm, '    ')}`);
    putSecret('b-users', 'users: { bob: { password: bob-pw } }\n');
    purser = await startPurser(
      {
        token: { issuer: 'purser', service: SERVICE },
        auth: { anonymous: false },
        acl: [{ match: { account: '?*' }, actions: ['pull'] }],
        kubernetes: { configSecrets: { namespace: NS, labelSelector: 'purser-config=true' } },
      },
      // client-node is loaded at start-up: slow on a loaded machine.
      { dir, env: { KUBECONFIG: api.writeKubeconfig(dir) }, startTimeoutMs: 60_000 },
    );
  });
  after(async () => {
    await purser?.stop();
    await api.close();
    removeDir(dir);
  });

  test('a user from a Secret gets a token; the key came from another Secret, inline', async () => {
    assert.equal(await tokenStatus('bob', 'bob-pw'), 200);
    assert.equal(await tokenStatus('carol', 'carol-pw'), 401);
  });

  test('the Secret updated: one reload, the new user gets a token, the old one is refused', async () => {
    const before = reloads();
    putSecret('b-users', 'users: { carol: { password: carol-pw } }\n');
    await waitFor(() => reloads() > before, 'the reload', 10_000);
    const reloaded = lines(/"msg":"configuration reloaded"/);
    assert.match(reloaded.at(-1)!, /"trigger":"Secret change"/);
    // One change, one new generation (the runtime's counter: 1 at start).
    assert.equal(reloaded.length, before + 1);
    assert.match(reloaded.at(-1)!, new RegExp(`"generation":${before + 2}\\b`));
    assert.equal(await tokenStatus('carol', 'carol-pw'), 200);
    assert.equal(await tokenStatus('bob', 'bob-pw'), 401);
  });

  test('an invalid Secret keeps the last good config, is logged with its name and key, and counted', async () => {
    const failed = failures().length;
    const ok = reloads();
    putSecret('c-broken', 'users: { dave: "not-a-bcrypt-hash-but-secret" }\n');
    await waitFor(() => failures().length > failed, 'the refused reload', 10_000);
    const line = JSON.parse(failures().at(-1)!.slice(failures().at(-1)!.indexOf('{'))) as Record<
      string,
      unknown
    >;
    assert.equal(line.secret, `${NS}/c-broken`);
    assert.equal(line.key, 'users.dave');
    assert.match(String(line.error), /^secret registry\/c-broken: users\.dave: not a bcrypt hash/);
    assert.equal(await metric('purser_config_source_errors_total', { source: 'secret' }), 1);
    assert.equal(reloads(), ok);
    assert.equal(await tokenStatus('carol', 'carol-pw'), 200);
    // Bad YAML, the same way.
    putSecret('c-broken', 'users: [\n');
    await waitFor(() => failures().length > failed + 1, 'the second refused reload', 10_000);
    assert.match(failures().at(-1)!, /"secret":"registry\/c-broken","key":"line 2, column 1"/);
    assert.equal(await metric('purser_config_source_errors_total', { source: 'secret' }), 2);
    // Fixed: it applies.
    putSecret('c-broken', 'users: { dave: { password: dave-pw } }\n');
    await waitFor(() => reloads() > ok, 'the reload after the fix', 10_000);
    assert.equal(await tokenStatus('dave', 'dave-pw'), 200);
    for (const l of lines(/./)) {
      assert.ok(!l.includes('hash-but-secret') && !l.includes('carol-pw') && !l.includes('BEGIN'), l);
      assert.ok(!l.includes(keyPem.split('\n')[1]!), 'no key material in the log');
    }
  });

  test('a watch error restarts the watch; a Secret deleted meanwhile takes its user with it', async () => {
    const before = reloads();
    api.failNextWatch('secrets', { code: 500, times: 1 });
    api.dropWatches('secrets');
    api.store.delete('secrets', NS, 'c-broken');
    await waitFor(() => reloads() > before, 'the reload after the delete', 15_000);
    assert.ok(lines(/"msg":"watching the config Secrets failed; restarting the watch"/).length >= 1);
    assert.ok((await metric('purser_config_source_watch_restarts_total', { source: 'secret' })) >= 1);
    assert.equal(await tokenStatus('dave', 'dave-pw'), 401);
    assert.equal(await tokenStatus('carol', 'carol-pw'), 200);
  });

  test('purser check and purser test judge the file with its Secrets merged, as serve runs it', async () => {
    // The file alone has no signing key and no user: both are in Secrets.
    const env = { ...process.env, KUBECONFIG: api.writeKubeconfig(dir) };
    const check = await run(
      process.execPath,
      [
        purserBin,
        'check',
        '--config',
        purser.configPath,
        '--user',
        'carol',
        '--password-stdin',
        '--scope',
        'repository:team/app:pull,push',
        '--json',
      ],
      { env, input: 'carol-pw', timeout: 60_000 },
    );
    assert.equal(check.code, 0, check.stderr);
    const explained = JSON.parse(check.stdout) as { identity: { account: string }; access: unknown };
    assert.equal(explained.identity.account, 'carol');
    assert.deepEqual(explained.access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const cases = join(dir, 'cases.yaml');
    writeFileSync(
      cases,
      'cases:\n  - { name: carol pulls, user: carol, scopes: ["repository:team/app:pull,push"], expect: { "repository:team/app": [pull] } }\n',
    );
    const t = await run(process.execPath, [purserBin, 'test', '--config', purser.configPath, cases], {
      env,
      timeout: 60_000,
    });
    assert.equal(t.code, 0, `${t.stdout}${t.stderr}`);
    // --file-only: the file alone, which names no signing key.
    const alone = await run(
      process.execPath,
      [
        purserBin,
        'check',
        '--config',
        purser.configPath,
        '--file-only',
        '--anonymous',
        '--scope',
        'repository:team/app:pull',
      ],
      { env, timeout: 60_000 },
    );
    assert.equal(alone.code, 2, alone.stderr);
    assert.match(alone.stderr, /token\.key/);
  });

  test('workers: 2: the primary watches the Secrets and every worker applies their change', async () => {
    const MULTI = 'multi';
    putSecret('a-signing', `token:\n  key: |\n${keyPem.replace(/^/gm, '    ')}`, MULTI);
    putSecret('b-users', 'users: { gina: { password: gina-pw } }\n', MULTI);
    const multi = await startPurser(
      {
        workers: 2,
        token: { issuer: 'purser', service: SERVICE },
        auth: { anonymous: false },
        acl: [{ match: { account: '?*' }, actions: ['pull'] }],
        kubernetes: { configSecrets: { namespace: MULTI, labelSelector: 'purser-config=true' } },
      },
      { env: { KUBECONFIG: api.writeKubeconfig(dir) }, startTimeoutMs: 60_000 },
    );
    try {
      assert.match(multi.logs(), /"msg":"listening".*"workers":2/);
      // A new connection per request: the primary hands connections to its workers in turn,
      // so these reach both of them.
      const statuses = async (user: string, pw: string) =>
        Promise.all(
          Array.from(
            { length: 8 },
            () =>
              new Promise<number>((resolve, reject) => {
                const req = httpGet(
                  `${multi.url}/token?service=${SERVICE}&scope=repository:team/app:pull`,
                  { agent: false, headers: { authorization: basic(user, pw) } },
                  (res) => {
                    res.resume();
                    res.on('end', () => resolve(res.statusCode ?? 0));
                  },
                );
                req.on('error', reject);
              }),
          ),
        );
      assert.deepEqual(await statuses('gina', 'gina-pw'), Array(8).fill(200));
      const reloadedLines = () =>
        multi
          .logs()
          .split('\n')
          .filter((l) => /"msg":"configuration reloaded"/.test(l));
      putSecret('b-users', 'users: { hank: { password: hank-pw } }\n', MULTI);
      await waitFor(() => reloadedLines().length > 0, 'the reload', 15_000);
      assert.match(reloadedLines()[0]!, /"trigger":"Secret change".*"workers":2/);
      assert.deepEqual(await statuses('hank', 'hank-pw'), Array(8).fill(200));
      assert.deepEqual(await statuses('gina', 'gina-pw'), Array(8).fill(401));
      // An invalid Secret: refused by the primary, named, counted; the workers keep serving.
      putSecret('c-broken', 'users: { ivy: "not-a-bcrypt-hash" }\n', MULTI);
      await waitFor(
        () => /"msg":"configuration reload failed/.test(multi.logs()),
        'the refused reload',
        15_000,
      );
      assert.match(
        multi.logs(),
        /"msg":"configuration reload failed[^"]*","trigger":"Secret change","secret":"multi\/c-broken","key":"users\.ivy"/,
      );
      const res = await fetch(`${multi.url}/metrics`);
      assert.equal(
        parseExposition(await res.text()).value('purser_config_source_errors_total', { source: 'secret' }),
        1,
      );
      assert.deepEqual(await statuses('hank', 'hank-pw'), Array(8).fill(200));
    } finally {
      await multi.stop();
    }
  });

  test('at start-up, an invalid Secret stops serve (exit 2) naming the Secret and the key', async () => {
    api.store.create('secrets', 'other', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bad', namespace: 'other', labels: { 'purser-config': 'true' } },
      data: { config: b64('users: { eve: "not-a-hash" }\n') },
    });
    const path = join(dir, 'other.yml');
    writeFileSync(
      path,
      `token: { issuer: purser, service: ${SERVICE}, key: token.key }\nacl: [{ match: {}, actions: [pull] }]\nlisten: 127.0.0.1:0\nkubernetes: { configSecrets: { namespace: other } }\n`,
    );
    const r = await run(process.execPath, [purserBin, 'serve', '--config', path], {
      env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig-admin') },
      timeout: 60_000,
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /secret other\/bad: users\.eve: not a bcrypt hash/);
  });
});
