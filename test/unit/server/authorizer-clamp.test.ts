// Issue 8 hole 10: a custom Authorizer plugged into buildApp cannot widen what is granted,
// neither in the tokens TokenService signs nor in what the proxy lets through.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Authorizer, ScopeDecision } from '../../../src/authz/authorizer.js';
import { writeKeyPair } from '../../../src/cli/keys.js';
import { buildConfig } from '../../../src/config/load.js';
import { parseScope, parseScopes, type Scope } from '../../../src/protocol/scope.js';
import { RegistryProxy } from '../../../src/proxy/server.js';
import { Runtime } from '../../../src/runtime/runtime.js';
import { buildApp } from '../../../src/server/app.js';
import { TokenHttpServer } from '../../../src/server/http.js';
import { Metrics } from '../../../src/server/metrics.js';
import { TokenService } from '../../../src/server/token-service.js';
import { KeyRing } from '../../../src/token/keyring.js';
import { loadSigningKey } from '../../../src/token/keys.js';
import { silentLogger } from '../../../src/util/log.js';
import { decodeJwt, makeKeys, tempDir } from '../support.js';

const SECRET = parseScope('repository:prod/secret:pull,push,delete');
const full = (requested: Scope): ScopeDecision => ({
  requested,
  granted: ['pull', 'push', 'delete'],
  rule: undefined,
  explanation: 'hostile',
});

/** Each answers something other than what was asked, in a different way. */
const HOSTILE: Record<string, Authorizer> = {
  'answers for another scope': { authorize: () => [full(SECRET)] },
  'answers nothing': { authorize: () => [] },
  'rewrites requested to ask nothing': {
    authorize: (req) =>
      req.scopes.map((s) => ({ ...full(s), requested: { ...s, actions: [] }, granted: [] })),
  },
  'grants more actions than asked': { authorize: (req) => req.scopes.map((s) => full(s)) },
  'grants * for concrete actions, plus extra scopes': {
    authorize: async (req) => [...req.scopes.map((s) => ({ ...full(s), granted: ['*'] })), full(SECRET)],
  },
};

describe('a custom authorizer is clamped to the requested scopes', () => {
  const tmp = tempDir('purser-clamp-');
  let upstream: Server;
  const upstreamSaw: string[] = [];
  // One token server and proxy per hostile authorizer.
  const stacks = new Map<
    string,
    { token: TokenHttpServer; proxy: RegistryProxy; tokenUrl: URL; proxyUrl: URL }
  >();

  before(async () => {
    await writeKeyPair(join(tmp.dir, 'k'), 'ES256');
    upstream = createServer((req, res) => {
      upstreamSaw.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    const config = buildConfig(
      {
        listen: '127.0.0.1:0',
        token: { issuer: 'clamp', service: 'svc', key: 'k/token.key' },
        auth: { anonymous: true },
        users: { eve: { password: 'eve-pw' } },
        acl: [{ match: {}, actions: [] }],
        proxy: { listen: '127.0.0.1:0', upstream: `http://127.0.0.1:${port}`, upstreamAuth: 'none' },
      },
      undefined,
      tmp.dir,
    );
    for (const [name, authorizer] of Object.entries(HOSTILE)) {
      const metrics = new Metrics();
      const app = await buildApp(config, silentLogger, metrics, { authorizer });
      const token = new TokenHttpServer(app, silentLogger, metrics);
      const tokenUrl = await token.listen('127.0.0.1:0');
      const proxy = new RegistryProxy(config.proxy!, token, new Runtime(app), silentLogger, metrics);
      const proxyUrl = await proxy.listen();
      stacks.set(name, { token, proxy, tokenUrl, proxyUrl });
    }
  });

  after(async () => {
    for (const s of stacks.values()) await Promise.all([s.proxy.close(), s.token.close()]);
    await new Promise((r) => upstream?.close(r));
    tmp.cleanup();
  });

  const access = async (url: URL, scope: string, basic?: string) => {
    const res = await fetch(`${url.origin}/token?service=svc&scope=${encodeURIComponent(scope)}`, {
      headers: basic ? { authorization: `Basic ${Buffer.from(basic).toString('base64')}` } : {},
    });
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).access as Scope[];
  };

  for (const name of Object.keys(HOSTILE)) {
    test(`TokenService: an authorizer that ${name} gets no more than was asked`, async () => {
      const { tokenUrl } = stacks.get(name)!;
      const anon = await access(tokenUrl, 'repository:team/app:pull');
      for (const a of anon) {
        assert.equal(a.name, 'team/app');
        assert.deepEqual(a.actions, ['pull']);
      }
      const two = await access(tokenUrl, 'repository:team/app:pull repository:team/b:push', 'eve:eve-pw');
      assert.ok(two.length <= 2);
      for (const a of two) {
        const asked = a.name === 'team/app' ? ['pull'] : a.name === 'team/b' ? ['push'] : [];
        assert.ok(asked.length > 0, `unrequested ${a.name}`);
        assert.deepEqual(a.actions, asked);
      }
    });

    test(`proxy: an authorizer that ${name} cannot let more through than it granted`, async () => {
      const { proxyUrl } = stacks.get(name)!;
      const before = upstreamSaw.length;
      const res = await fetch(`${proxyUrl.origin}/v2/team/app/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('eve:eve-pw').toString('base64')}` },
      });
      await res.arrayBuffer();
      const grantsPush = name.startsWith('grants');
      if (grantsPush) {
        // It did grant the requested push: that one is obeyed, as it was asked.
        assert.equal(res.status, 200);
      } else {
        assert.equal(res.status, 403);
        assert.equal(upstreamSaw.length, before, 'the refused request reached the upstream');
      }
    });
  }
});

describe('a TokenService built without buildApp clamps too', () => {
  test('an authorizer answering for prod/secret gives an anonymous pull of team/app nothing', async () => {
    const k = await makeKeys();
    const ring = new KeyRing([await loadSigningKey(k.keyPath, k.crtPath)], {
      issuer: 'i',
      keyId: 'libtrust',
      expiresIn: 60,
    });
    k.cleanup();
    const tokens = new TokenService({
      issuer: 'i',
      services: ['svc'],
      keyring: ring,
      authenticators: [],
      authorizer: HOSTILE['answers for another scope']!,
      anonymous: true,
      throttlePolicy: { max: 5, windowSeconds: 60 },
    });
    const out = await tokens.handle(
      {
        grant: 'get',
        service: 'svc',
        scopes: parseScopes(['repository:team/app:pull']),
        account: undefined,
        clientId: undefined,
        offline: false,
        credentials: undefined,
        refreshToken: undefined,
      },
      '127.0.0.1',
    );
    assert.deepEqual(decodeJwt(out.response.token).payload.access, []);
    assert.deepEqual(
      out.decisions.map((d) => [d.requested.name, d.granted]),
      [['team/app', []]],
    );
  });
});
