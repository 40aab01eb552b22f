// `purser serve` on the Runtime: SIGHUP and an edit of the configuration file both reload; an
// invalid configuration is logged with its key and the old one keeps serving; 100 reloads
// under constant load through the token server and the proxy fail no request; a provider
// whose configuration did not change keeps its fetched keys (no JWKS refetch).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { TestIssuer, waitFor } from '../helpers/issuer.js';
import { generateKeys, type KeyPair, type Purser, startPurser } from '../helpers/purser.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const AUD = 'registry.test';
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('serve reloads on the Runtime', () => {
  let dir: string;
  let keys: KeyPair;
  let keep: TestIssuer;
  let change: TestIssuer;
  let upstream: Server;
  let upstreamUrl: string;
  let purser: Purser;

  const config = (o: { actions?: string[]; changeSkew?: number; when?: string } = {}) => ({
    listen: '127.0.0.1:0',
    token: { issuer: 'purser', service: AUD, key: keys.key, certificate: keys.crt },
    users: { alice: { password: 'pw' } },
    providers: [
      { name: 'keep', issuer: keep.url, audience: AUD },
      { name: 'change', issuer: change.url, audience: AUD, clockSkew: o.changeSkew ?? 30 },
    ],
    acl: [
      {
        match: { account: 'alice', name: 'team/*' },
        actions: o.actions ?? ['pull'],
        ...(o.when ? { when: o.when } : {}),
      },
    ],
    proxy: { listen: '127.0.0.1:0', upstream: upstreamUrl, upstreamAuth: 'none' },
  });

  const count = (re: RegExp) =>
    purser
      .logs()
      .split('\n')
      .filter((l) => re.test(l)).length;
  const RELOADED = /"msg":"configuration reloaded"/;

  const waitForCount = async (re: RegExp, n: number, what: string) =>
    waitFor(() => count(re) >= n, what, 10_000);

  const tokenAccess = async (): Promise<string[]> => {
    const res = await fetch(`${purser.url}/token?service=${AUD}&scope=repository:team/app:pull,push`, {
      headers: { authorization: basic('alice', 'pw') },
    });
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    return (payload.access as { actions: string[] }[]).flatMap((a) => a.actions).sort();
  };

  before(async () => {
    dir = makeTempDir('purser-serve-reload-');
    keys = await generateKeys(dir, 'ES256');
    keep = await TestIssuer.start();
    change = await TestIssuer.start();
    upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"team/app","tags":[]}');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    purser = await startPurser(config(), { dir });
    await waitFor(() => keep.hits.jwks >= 1 && change.hits.jwks >= 1, 'the start-up key fetches');
  });

  after(async () => {
    await purser?.stop();
    await keep?.close();
    await change?.close();
    await new Promise((r) => upstream?.close(r));
    if (dir) removeDir(dir);
  });

  test('SIGHUP reloads (a new generation)', async () => {
    const before = count(/"trigger":"SIGHUP"/);
    purser.proc.child.kill('SIGHUP');
    await waitForCount(/"msg":"configuration reloaded".*"trigger":"SIGHUP"/, before + 1, 'a SIGHUP reload');
  });

  test('editing the configuration file reloads it, no signal', async () => {
    assert.deepEqual(await tokenAccess(), ['pull']);
    const before = count(/"trigger":"file change"/);
    writeFileSync(purser.configPath, stringify(config({ actions: ['pull', 'push'] })));
    await waitForCount(
      /"msg":"configuration reloaded".*"trigger":"file change"/,
      before + 1,
      'a file reload',
    );
    assert.deepEqual(await tokenAccess(), ['pull', 'push']);
  });

  test('an invalid new configuration is logged with its key; the old one keeps serving', async () => {
    const before = count(/reload failed/);
    writeFileSync(purser.configPath, stringify(config({ actions: ['pull'], when: 'identity.account ==' })));
    await waitForCount(/reload failed.*"key":"acl\[0\]\.when"/, before + 1, 'the refused reload');
    assert.deepEqual(await tokenAccess(), ['pull', 'push'], 'the previous configuration still decides');
  });

  test('a provider whose configuration is unchanged keeps its keys across a reload', async () => {
    const keepBefore = keep.hits.jwks;
    const changeBefore = change.hits.jwks;
    const before = count(RELOADED);
    writeFileSync(purser.configPath, stringify(config({ actions: ['pull', 'push'], changeSkew: 31 })));
    await waitForCount(RELOADED, before + 1, 'the reload');
    // The changed provider is new and fetches; the unchanged one is carried over.
    await waitFor(() => change.hits.jwks > changeBefore, 'the changed provider fetching its keys');
    const jwt = await keep.sign({ sub: 'ci-job', aud: AUD });
    const res = await fetch(`${purser.url}/token?service=${AUD}`, {
      headers: { authorization: basic('keep', jwt) },
    });
    assert.equal(res.status, 200, await res.text());
    assert.equal(keep.hits.jwks, keepBefore, 'no JWKS fetch for the unchanged provider');
  });

  test('100 reloads under constant load: no request fails', async (t) => {
    const keepBefore = keep.hits.jwks;
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const worker = async (i: number) => {
      while (!stop) {
        const url =
          i % 2 === 0
            ? `${purser.url}/token?service=${AUD}&scope=repository:team/app:pull`
            : `${purser.proxyUrl}/v2/team/app/tags/list`;
        try {
          const res = await fetch(url, { headers: { authorization: basic('alice', 'pw') } });
          await res.arrayBuffer();
          if (res.status === 200) ok++;
          else failures.push(`${url}: ${res.status}`);
        } catch (e) {
          failures.push(`${url}: ${(e as Error).message}`);
        }
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    const start = count(RELOADED);
    const began = Date.now();
    for (let n = 1; n <= 100; n++) {
      // Alternate the ACL so each reload swaps in a different state.
      if (n % 10 === 0)
        writeFileSync(
          purser.configPath,
          stringify(config({ actions: n % 20 ? ['pull'] : ['pull', 'push'], changeSkew: 31 })),
        );
      purser.proc.child.kill('SIGHUP');
      await waitForCount(RELOADED, start + n, `reload ${n}`);
    }
    stop = true;
    await Promise.all(workers);
    t.diagnostic(
      `100 reloads in ${Date.now() - began} ms; ${ok} requests answered 200, ${failures.length} failed`,
    );
    assert.deepEqual(failures, []);
    assert.ok(ok > 200, `only ${ok} requests completed during the reloads`);
    assert.equal(keep.hits.jwks, keepBefore, 'reloads refetched the unchanged provider');
  });
});
