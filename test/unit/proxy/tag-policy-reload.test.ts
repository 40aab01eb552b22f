// proxy.tags comes from the state each request starts on: a reload changes it without a
// restart, and an immutable tag is checked against the upstream before the PUT is forwarded.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeKeyPair } from '../../../src/cli/keys.js';
import { buildConfig } from '../../../src/config/load.js';
import { RegistryProxy } from '../../../src/proxy/server.js';
import { Runtime } from '../../../src/runtime/runtime.js';
import { buildApp } from '../../../src/server/app.js';
import { TokenHttpServer } from '../../../src/server/http.js';
import { Metrics } from '../../../src/server/metrics.js';
import { silentLogger } from '../../../src/util/log.js';
import { basic, tempDir } from '../support.js';

const tmp = tempDir('purser-tags-reload-');
let upstream: Server;
const upstreamSaw: string[] = [];
let token: TokenHttpServer;
let proxy: RegistryProxy;
let proxyUrl: URL;
let rt: Runtime;
let configFor: (tags: unknown[]) => ReturnType<typeof buildConfig>;
/** The digest the fake upstream has for existing tags. */
const EXISTING = 'sha256:c69416276a0a5bdc91a6ddfb9b79ec34fe4e1522769c117bf4df276e035ff2e4';

before(async () => {
  await writeKeyPair(join(tmp.dir, 'k'), 'ES256');
  upstream = createServer((req, res) => {
    upstreamSaw.push(`${req.method} ${req.url}`);
    req.resume();
    if (req.method === 'HEAD')
      return void (req.url!.endsWith('/v1')
        ? res.writeHead(200, { 'docker-content-digest': EXISTING }).end()
        : res.writeHead(404).end());
    req.on('end', () => res.writeHead(201).end());
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  configFor = (tags) =>
    buildConfig(
      {
        listen: '127.0.0.1:0',
        token: { issuer: 'tags', service: 'svc', key: 'k/token.key' },
        users: { eve: { password: 'eve-pw' } },
        acl: [{ match: { account: 'eve' }, actions: ['*'] }],
        proxy: { listen: '127.0.0.1:0', upstream: `http://127.0.0.1:${port}`, upstreamAuth: 'none', tags },
      },
      undefined,
      tmp.dir,
    );
  const config = configFor([{ tags: 'latest', actions: [] }]);
  const metrics = new Metrics();
  const app = await buildApp(config, silentLogger, metrics);
  rt = new Runtime(app);
  token = new TokenHttpServer(app, silentLogger, metrics);
  await token.listen('127.0.0.1:0');
  proxy = new RegistryProxy(config.proxy!, token, rt, silentLogger, metrics);
  proxyUrl = await proxy.listen();
});

after(async () => {
  await Promise.all([proxy.close(), token.close()]);
  await rt.close();
  await new Promise((r) => upstream.close(r));
  tmp.cleanup();
});

const put = async (tag: string, body = '{}') => {
  const res = await fetch(new URL(`/v2/a/manifests/${tag}`, proxyUrl), {
    method: 'PUT',
    headers: { authorization: basic('eve', 'eve-pw'), 'content-type': 'application/json' },
    body,
  });
  return { status: res.status, text: await res.text() };
};

test('a reload that changes proxy.tags applies to the next request', async () => {
  assert.equal((await put('latest')).status, 403);
  assert.ok(!upstreamSaw.includes('PUT /v2/a/manifests/latest'));
  rt.swap(await buildApp(configFor([]), silentLogger, new Metrics(), { previous: rt.state }));
  assert.equal((await put('latest')).status, 201);
  assert.ok(upstreamSaw.includes('PUT /v2/a/manifests/latest'));
});

test('immutable: a new tag is forwarded, an existing one only with the same manifest', async () => {
  rt.swap(
    await buildApp(configFor([{ tags: 'v*', immutable: true }]), silentLogger, new Metrics(), {
      previous: rt.state,
    }),
  );
  upstreamSaw.length = 0;
  assert.equal((await put('v2')).status, 201);
  assert.deepEqual(upstreamSaw, ['HEAD /v2/a/manifests/v2', 'PUT /v2/a/manifests/v2']);
  upstreamSaw.length = 0;
  // `{"same":true}` is the manifest whose digest the upstream holds for v1.
  assert.equal((await put('v1', '{"same":true}')).status, 201);
  const other = await put('v1', '{"same":false}');
  assert.equal(other.status, 403);
  assert.match(other.text, /tag v1 is immutable \(proxy\.tags\[0\]\)/);
  assert.deepEqual(upstreamSaw, [
    'HEAD /v2/a/manifests/v1',
    'PUT /v2/a/manifests/v1',
    'HEAD /v2/a/manifests/v1',
  ]);
});
