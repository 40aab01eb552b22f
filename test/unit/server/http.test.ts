import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { buildConfig } from '../../../src/config/load.js';
import { buildApp } from '../../../src/server/app.js';
import { silentLogger } from '../../../src/util/log.js';
import {
  basic,
  cheapHash,
  configObject,
  decodeJwt,
  type KeyFiles,
  makeKeys,
  type RunningServer,
  startServer,
} from '../support.js';

const ALICE_PW = 'alice-Secret-pw';
const BOB_PW = 'bob-plain-pw';

function acl() {
  return [
    { match: { account: 'alice', name: 'team/**' }, actions: ['pull', 'push'] },
    { match: { account: 'admin', type: 'registry' }, actions: ['*'] },
    { match: { account: 'admin' }, actions: ['*'] },
    { match: { name: 'private/**' }, actions: [] },
    { match: { account: '' }, actions: ['pull'] },
    { match: { account: '*' }, actions: ['pull'] },
  ];
}

type Json = Record<string, unknown>;
async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; headers: Headers; body: Json; text: string }> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    /* not JSON */
  }
  return { status: r.status, headers: r.headers, body, text };
}
const form = (fields: [string, string][]) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});
const access = (token: unknown) => decodeJwt(String(token)).payload.access;

/** A raw HTTP request that reports a reset connection instead of throwing. */
function raw(
  url: string,
  opts: { method: string; path: string; headers?: Record<string, string>; chunks?: Buffer[] },
): Promise<{ status: number | 'reset'; body: string }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const req = request(
      { host: u.hostname, port: u.port, method: opts.method, path: opts.path, headers: opts.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 'reset', body }));
      },
    );
    req.on('error', () => resolve({ status: 'reset', body: '' }));
    for (const c of opts.chunks ?? []) req.write(c);
    req.end();
  });
}

describe('token HTTP server', () => {
  let keys: KeyFiles & { cleanup: () => void };
  let srv: RunningServer;
  let url = '';
  const aliceHash = cheapHash(ALICE_PW);

  const conf = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
    configObject(keys, {
      users: {
        alice: aliceHash,
        admin: cheapHash('admin-pw'),
        bob: { password: BOB_PW },
        limited: cheapHash('limited-pw'),
      },
      auth: { failedLogins: { max: 3, windowSeconds: 60 } },
      acl: acl(),
      ...extra,
    });

  before(async () => {
    keys = await makeKeys('ES256');
    srv = await startServer(conf(), keys.dir, { captureLogs: true });
    url = srv.url;
  });
  after(async () => {
    await srv.close();
    keys.cleanup();
  });

  async function verify(token: string) {
    const jwks = (await getJson(`${url}/.well-known/jwks.json`)).body as { keys: [] };
    return jwtVerify(token, createLocalJWKSet(jwks), { issuer: 'purser-test', audience: 'registry.test' });
  }

  test('GET /token anonymous: token and access_token, expires_in, issued_at, no refresh_token', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await getJson(`${url}/token?service=registry.test&scope=repository:team/app:pull,push`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(typeof r.body.token, 'string');
    assert.equal(r.body.access_token, r.body.token);
    assert.equal(r.body.expires_in, 300);
    assert.match(String(r.body.issued_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal('refresh_token' in r.body, false);
    const { payload, protectedHeader } = await verify(String(r.body.token));
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, '');
    assert.equal(payload.aud, 'registry.test');
    assert.ok(Number(payload.iat) >= before);
    assert.deepEqual(payload.access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
  });

  test('GET /token without service gets the first configured service', async () => {
    const r = await getJson(`${url}/token`);
    assert.equal(r.status, 200);
    assert.equal(decodeJwt(String(r.body.token)).payload.aud, 'registry.test');
  });

  test('GET /token with Basic credentials: the account gets its grants', async () => {
    const r = await getJson(
      `${url}/token?account=alice&service=registry.test&scope=repository:team/app:pull,push`,
      {
        headers: { authorization: basic('alice', ALICE_PW) },
      },
    );
    assert.equal(r.status, 200);
    const p = decodeJwt(String(r.body.token)).payload;
    assert.equal(p.sub, 'alice');
    assert.deepEqual(p.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
  });

  test('plaintext user works as well', async () => {
    const r = await getJson(`${url}/token?scope=repository:x:pull`, {
      headers: { authorization: basic('bob', BOB_PW) },
    });
    assert.equal(r.status, 200);
    assert.equal(decodeJwt(String(r.body.token)).payload.sub, 'bob');
  });

  test('partial grant: 200 with the subset; mount-style multiple scopes; nothing at all is still 200', async () => {
    const r = await getJson(
      `${url}/token?scope=repository:team/app:pull,push,delete&scope=repository:other/app:pull,push&scope=repository:private/x:pull`,
      { headers: { authorization: basic('alice', ALICE_PW) } },
    );
    assert.equal(r.status, 200);
    assert.deepEqual(access(r.body.token), [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'other/app', actions: ['pull'] },
    ]);
    const none = await getJson(`${url}/token?scope=repository:private/x:push`);
    assert.equal(none.status, 200);
    assert.deepEqual(access(none.body.token), []);
  });

  test('admin: registry:catalog:* stays *, repository:*: stays *', async () => {
    const r = await getJson(`${url}/token?scope=registry:catalog:*&scope=repository:a/b:*`, {
      headers: { authorization: basic('admin', 'admin-pw') },
    });
    assert.deepEqual(access(r.body.token), [
      { type: 'registry', name: 'catalog', actions: ['*'] },
      { type: 'repository', name: 'a/b', actions: ['*'] },
    ]);
  });

  test('401: WWW-Authenticate Basic realm, JSON errors body, no password leak (GET)', async () => {
    const secret = 'WRONG-pw-Zq9';
    const r = await getJson(`${url}/token?scope=repository:team/app:pull`, {
      headers: { authorization: basic('alice', secret) },
    });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm="[^"]+"$/);
    const errors = r.body.errors as { code: string; message: string }[];
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, 'UNAUTHORIZED');
    assert.equal(typeof errors[0]?.message, 'string');
    assert.ok(!r.text.includes(secret));
    assert.ok(!r.text.includes(Buffer.from(`alice:${secret}`).toString('base64')));
  });

  test('401 on POST password: OAuth2 fields too, no password leak', async () => {
    const secret = 'Another-WRONG-pw';
    const r = await getJson(
      `${url}/token`,
      form([
        ['grant_type', 'password'],
        ['username', 'bob'],
        ['password', secret],
        ['service', 'registry.test'],
      ]),
    );
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    assert.equal((r.body.errors as { code: string }[])[0]?.code, 'UNAUTHORIZED');
    assert.equal(r.body.error, 'invalid_grant');
    assert.ok(!r.text.includes(secret));
  });

  test('unknown user: 401 like a wrong password', async () => {
    const r = await getJson(`${url}/token`, { headers: { authorization: basic('nobody', 'whatever') } });
    assert.equal(r.status, 401);
    assert.equal((r.body.errors as { code: string }[])[0]?.code, 'UNAUTHORIZED');
  });

  test('the log never holds a password', async () => {
    // (admin, not alice: the failed-login limit of 3 is per user and address)
    await getJson(`${url}/token`, { headers: { authorization: basic('admin', 'LOGLEAK-pw-1') } });
    await getJson(
      `${url}/token`,
      form([
        ['grant_type', 'password'],
        ['username', 'admin'],
        ['password', 'LOGLEAK-pw-2'],
      ]),
    );
    await getJson(`${url}/token`, { headers: { authorization: basic('alice', ALICE_PW) } });
    const all = srv.logs.join('');
    assert.ok(srv.logs.length > 0, 'logs were captured');
    for (const s of ['LOGLEAK-pw-1', 'LOGLEAK-pw-2', ALICE_PW, BOB_PW])
      assert.ok(!all.includes(s), `log contains ${s}`);
  });

  test('account that disagrees with the Basic user -> 400', async () => {
    const r = await getJson(`${url}/token?account=admin`, {
      headers: { authorization: basic('alice', ALICE_PW) },
    });
    assert.equal(r.status, 400);
    assert.equal((r.body.errors as { code: string }[])[0]?.code, 'INVALID_REQUEST');
  });

  test('unknown service -> 400 UNKNOWN_SERVICE', async () => {
    const r = await getJson(`${url}/token?service=evil.example`);
    assert.equal(r.status, 400);
    assert.equal((r.body.errors as { code: string }[])[0]?.code, 'UNKNOWN_SERVICE');
  });

  test('malformed scope -> 400 INVALID_SCOPE', async () => {
    for (const s of ['repository:Team/App:pull', 'repository:a', 'repository:a:PULL']) {
      const r = await getJson(`${url}/token?scope=${encodeURIComponent(s)}`);
      assert.equal(r.status, 400, s);
      assert.equal((r.body.errors as { code: string }[])[0]?.code, 'INVALID_SCOPE');
    }
  });

  test('malformed Basic header -> 400', async () => {
    const r = await getJson(`${url}/token`, { headers: { authorization: 'Basic !!!' } });
    assert.equal(r.status, 400);
  });

  test('POST password grant, scopes space-separated (containerd)', async () => {
    const r = await getJson(
      `${url}/token`,
      form([
        ['grant_type', 'password'],
        ['username', 'alice'],
        ['password', ALICE_PW],
        ['service', 'registry.test'],
        ['scope', 'repository:team/a:pull repository:team/b:pull,push'],
      ]),
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.access_token, r.body.token);
    assert.equal('refresh_token' in r.body, false);
    assert.deepEqual(access(r.body.access_token), [
      { type: 'repository', name: 'team/a', actions: ['pull'] },
      { type: 'repository', name: 'team/b', actions: ['pull', 'push'] },
    ]);
  });

  test('POST unsupported and missing grant_type -> 400 with OAuth2 error', async () => {
    const r = await getJson(`${url}/token`, form([['grant_type', 'client_credentials']]));
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'unsupported_grant_type');
    const m = await getJson(`${url}/token`, form([['username', 'alice']]));
    assert.equal(m.status, 400);
    assert.equal(m.body.error, 'invalid_request');
  });

  test('docker flow: GET offline_token=true gives a refresh token; POST refresh_token works and does not rotate it', async () => {
    const login = await getJson(
      `${url}/token?account=alice&client_id=docker&offline_token=true&service=registry.test`,
      {
        headers: { authorization: basic('alice', ALICE_PW) },
      },
    );
    assert.equal(login.status, 200);
    const rt = String(login.body.refresh_token);
    assert.ok(rt.split('.').length === 3, 'a refresh token was returned');
    assert.notEqual(rt, login.body.token);
    const r = await getJson(
      `${url}/token`,
      form([
        ['grant_type', 'refresh_token'],
        ['refresh_token', rt],
        ['service', 'registry.test'],
        ['client_id', 'docker'],
        ['access_type', 'offline'],
        ['scope', 'repository:team/app:push,pull'],
      ]),
    );
    assert.equal(r.status, 200);
    assert.equal('refresh_token' in r.body, false, 'refresh grant must not return a new refresh_token');
    const p = decodeJwt(String(r.body.token)).payload;
    assert.equal(p.sub, 'alice');
    assert.deepEqual(p.access, [{ type: 'repository', name: 'team/app', actions: ['push', 'pull'] }]);
  });

  test('POST password with access_type=offline returns a refresh token; anonymous offline gets none', async () => {
    const r = await getJson(
      `${url}/token`,
      form([
        ['grant_type', 'password'],
        ['username', 'alice'],
        ['password', ALICE_PW],
        ['access_type', 'offline'],
      ]),
    );
    assert.equal(typeof r.body.refresh_token, 'string');
    const anon = await getJson(`${url}/token?offline_token=true`);
    assert.equal(anon.status, 200);
    assert.equal('refresh_token' in anon.body, false);
  });

  test('a registry access token is refused as a refresh token; garbage too', async () => {
    const a = await getJson(`${url}/token`, { headers: { authorization: basic('alice', ALICE_PW) } });
    for (const rt of [String(a.body.token), 'garbage', 'a.b.c']) {
      const r = await getJson(
        `${url}/token`,
        form([
          ['grant_type', 'refresh_token'],
          ['refresh_token', rt],
        ]),
      );
      assert.equal(r.status, 401, rt.slice(0, 20));
      assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    }
  });

  test('429 with Retry-After after too many failures, even for the right password', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await getJson(`${url}/token`, { headers: { authorization: basic('limited', `wrong-${i}`) } });
      assert.equal(r.status, 401, `attempt ${i}`);
    }
    const blocked = await getJson(`${url}/token`, {
      headers: { authorization: basic('limited', 'limited-pw') },
    });
    assert.equal(blocked.status, 429);
    const ra = Number(blocked.headers.get('retry-after'));
    assert.ok(
      Number.isInteger(ra) && ra > 0 && ra <= 60,
      `Retry-After ${blocked.headers.get('retry-after')}`,
    );
    assert.equal((blocked.body.errors as { code: string }[])[0]?.code, 'TOO_MANY_ATTEMPTS');
    // Other users from the same address are not blocked.
    assert.equal(
      (await getJson(`${url}/token`, { headers: { authorization: basic('alice', ALICE_PW) } })).status,
      200,
    );
  });

  test('a refresh token stops working when the user password changes (hot reload)', async () => {
    const login = await getJson(`${url}/token?offline_token=true`, {
      headers: { authorization: basic('alice', ALICE_PW) },
    });
    const rt = String(login.body.refresh_token);
    const use = () =>
      getJson(
        `${url}/token`,
        form([
          ['grant_type', 'refresh_token'],
          ['refresh_token', rt],
        ]),
      );
    assert.equal((await use()).status, 200);
    const old = srv.server.state;
    const changed = conf();
    (changed.users as Record<string, unknown>).alice = cheapHash('a new password');
    srv.server.setState(await buildApp(buildConfig(changed, undefined, keys.dir), silentLogger, srv.metrics));
    try {
      const r = await use();
      assert.equal(r.status, 401);
      assert.match(JSON.stringify(r.body), /password changed|log in again/);
    } finally {
      srv.server.setState(old);
    }
    assert.equal((await use()).status, 200, 'same credential again: valid');
  });

  test('a refresh token of a removed user is refused', async () => {
    const login = await getJson(`${url}/token?offline_token=true`, {
      headers: { authorization: basic('bob', BOB_PW) },
    });
    const rt = String(login.body.refresh_token);
    const old = srv.server.state;
    const changed = conf();
    delete (changed.users as Record<string, unknown>).bob;
    srv.server.setState(await buildApp(buildConfig(changed, undefined, keys.dir), silentLogger, srv.metrics));
    try {
      const r = await getJson(
        `${url}/token`,
        form([
          ['grant_type', 'refresh_token'],
          ['refresh_token', rt],
        ]),
      );
      assert.equal(r.status, 401);
    } finally {
      srv.server.setState(old);
    }
  });

  test('/healthz, /readyz, HEAD /healthz', async () => {
    const h = await fetch(`${url}/healthz`);
    assert.equal(h.status, 200);
    assert.equal((await h.text()).trim(), 'ok');
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.equal((await fetch(`${url}/healthz`, { method: 'HEAD' })).status, 200);
  });

  test('/metrics: Prometheus text with purser_token_requests_total counting requests', async () => {
    const m1 = await (await fetch(`${url}/metrics`)).text();
    await getJson(`${url}/token?scope=repository:x:pull`);
    const res = await fetch(`${url}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const m2 = await res.text();
    assert.match(m2, /# TYPE purser_token_requests_total counter/);
    const count = (m: string) =>
      Number(/purser_token_requests_total\{grant="get",outcome="ok"\} (\d+)/.exec(m)?.[1] ?? 0);
    assert.equal(count(m2), count(m1) + 1);
    assert.match(m2, /purser_token_request_duration_seconds_bucket\{le="\+Inf"\} \d+/);
  });

  test('/.well-known/jwks.json: the kid in token headers is the published kid', async () => {
    const jwks = (await getJson(`${url}/.well-known/jwks.json`)).body as { keys: Json[] };
    assert.equal(jwks.keys.length, 1);
    const k = jwks.keys[0]!;
    assert.equal(k.kid, keys.libtrust);
    assert.equal(k.kty, 'EC');
    assert.equal(k.d, undefined);
    const t = await getJson(`${url}/token`);
    assert.equal(decodeProtectedHeader(String(t.body.token)).kid, k.kid);
  });

  test('unknown route 404, bad method 405 with Allow', async () => {
    const r = await getJson(`${url}/v2/`);
    assert.equal(r.status, 404);
    assert.ok(Array.isArray(r.body.errors));
    const put = await fetch(`${url}/token`, { method: 'PUT', body: 'x' });
    assert.equal(put.status, 405);
    assert.match(put.headers.get('allow') ?? '', /GET.*POST/);
    const post = await fetch(`${url}/healthz`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal((await fetch(`${url}/token`, { method: 'DELETE' })).status, 405);
  });

  test('oversized POST body with Content-Length -> 400', async () => {
    const big = `grant_type=password&username=alice&password=${'x'.repeat(70 * 1024)}`;
    const r = await raw(url, {
      method: 'POST',
      path: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(big.length) },
      chunks: [Buffer.from(big)],
    });
    assert.equal(r.status, 400);
    assert.match(r.body, /larger than/);
  });

  test('oversized chunked POST body -> 400', async () => {
    const chunks = Array.from({ length: 20 }, () => Buffer.alloc(8 * 1024, 'a'));
    const r = await raw(url, {
      method: 'POST',
      path: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' },
      chunks,
    });
    assert.equal(r.status, 400);
  });

  test('a client that disconnects in the middle of its body is not logged as an internal error', async () => {
    const u = new URL(url);
    const { connect } = await import('node:net');
    const before = srv.logs.length;
    await new Promise<void>((resolve) => {
      const sock = connect(Number(u.port), u.hostname, () => {
        sock.write(
          'POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=pass',
        );
        setTimeout(() => {
          sock.destroy();
          setTimeout(resolve, 150);
        }, 50);
      });
    });
    const errors = srv.logs
      .slice(before)
      .filter((l) => (JSON.parse(l) as { level: string }).level === 'error');
    assert.deepEqual(errors, []);
  });

  test('the server keeps serving after the oversized requests', async () => {
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  });

  // Token responses of one event-loop turn are written together (limits.responseBatch, 16 by
  // default): requests pipelined in one packet arrive in one turn, and each must still get
  // its own answer, in order.
  test('pipelined token requests in one write: each answered in order with its own token or error', async () => {
    const { hostname, port } = new URL(url);
    const requests = [
      ['/token?service=registry.test&scope=repository:team/a:pull', undefined],
      ['/token?service=registry.test&scope=repository:team/b:pull,push', basic('alice', ALICE_PW)],
      ['/token?service=registry.test&scope=bad', undefined],
      ['/token?service=registry.test&scope=repository:team/c:pull', basic('alice', ALICE_PW)],
      ['/token?service=nope', undefined],
      ['/token?service=registry.test&scope=repository:team/d:push', basic('alice', ALICE_PW)],
    ] as const;
    const wire = requests
      .map(
        ([path, auth]) =>
          `GET ${path} HTTP/1.1\r\nHost: x\r\n${auth ? `Authorization: ${auth}\r\n` : ''}\r\n`,
      )
      .join('');
    const received = await new Promise<Buffer>((resolve, reject) => {
      const sock = connect(Number(port), hostname);
      const chunks: Buffer[] = [];
      let responses = 0;
      sock.on('data', (c: Buffer) => {
        chunks.push(c);
        responses = (
          Buffer.concat(chunks)
            .toString('latin1')
            .match(/^HTTP\/1\.1 /gm) ?? []
        ).length;
        // Each response has a Content-Length: once the last head is in, wait for its body.
        if (responses === requests.length) setTimeout(() => sock.end(), 100);
      });
      sock.on('end', () => resolve(Buffer.concat(chunks)));
      sock.on('error', reject);
      sock.write(wire);
    });
    // Split the stream into responses, as a client would (Content-Length or chunked).
    const answers: { status: number; body: Json }[] = [];
    let rest = received.toString('latin1');
    while (rest.length > 0) {
      const headEnd = rest.indexOf('\r\n\r\n');
      assert.ok(headEnd > 0, `a response head in ${JSON.stringify(rest.slice(0, 200))}`);
      const head = rest.slice(0, headEnd);
      rest = rest.slice(headEnd + 4);
      let body = '';
      const length = /^content-length: *(\d+)/im.exec(head)?.[1];
      if (length !== undefined) {
        body = rest.slice(0, Number(length));
        rest = rest.slice(Number(length));
      } else {
        assert.match(head, /^transfer-encoding: chunked/im);
        for (;;) {
          const lineEnd = rest.indexOf('\r\n');
          const size = Number.parseInt(rest.slice(0, lineEnd), 16);
          body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
          rest = rest.slice(lineEnd + 2 + size + 2);
          if (size === 0) break;
        }
      }
      answers.push({ status: Number(head.slice(9, 12)), body: JSON.parse(body) as Json });
    }
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 400, 200, 400, 200],
    );
    assert.deepEqual(access(answers[0]!.body.token), [
      { type: 'repository', name: 'team/a', actions: ['pull'] },
    ]);
    assert.equal(decodeJwt(String(answers[1]!.body.token)).payload.sub, 'alice');
    assert.deepEqual(access(answers[1]!.body.token), [
      { type: 'repository', name: 'team/b', actions: ['pull', 'push'] },
    ]);
    assert.match(JSON.stringify(answers[2]!.body), /INVALID_SCOPE/);
    assert.deepEqual(access(answers[3]!.body.token), [
      { type: 'repository', name: 'team/c', actions: ['pull'] },
    ]);
    assert.match(JSON.stringify(answers[4]!.body), /UNKNOWN_SERVICE/);
    assert.deepEqual(access(answers[5]!.body.token), [
      { type: 'repository', name: 'team/d', actions: ['push'] },
    ]);
  });

  test('40 token requests at once, each on its own connection: every one gets the access it asked for', async () => {
    const got = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        getJson(`${url}/token?service=registry.test&scope=repository:team/n${i}:pull`, {
          headers: { connection: 'close' },
        }),
      ),
    );
    for (const [i, r] of got.entries()) {
      assert.equal(r.status, 200);
      assert.deepEqual(access(r.body.token), [{ type: 'repository', name: `team/n${i}`, actions: ['pull'] }]);
    }
  });

  test('fuzz: 300 random queries, headers and bodies never produce a 500', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.constantFrom(
        'repository:a:pull',
        'registry:catalog:*',
        'password',
        'refresh_token',
        'alice',
        'registry.test',
        'true',
        '',
        '%',
        '%zz',
        '&&',
        '==',
      ),
    );
    const key = fc.constantFrom(
      'service',
      'scope',
      'account',
      'offline_token',
      'client_id',
      'grant_type',
      'username',
      'password',
      'refresh_token',
      'access_type',
      'zzz',
    );
    const params = fc.array(fc.tuple(key, text), { maxLength: 6 });
    const authz = fc.oneof(
      fc.constant(undefined),
      fc
        .string({ unit: fc.constantFrom(...'abcXYZ019+/=: '.split('')), maxLength: 40 })
        .map((s) => `Basic ${s}`),
      fc.tuple(text, text).map(([u, p]) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`),
      fc
        .string({ unit: fc.constantFrom(...'abcXYZ019+/=:. '.split('')), maxLength: 40 })
        .map((s) => `Bearer ${s}`),
    );
    const req = fc.record({
      method: fc.constantFrom('GET', 'POST', 'POST', 'HEAD', 'PUT'),
      path: fc.constantFrom('/token', '/token', '/token', '/metrics', '/nope', '/.well-known/jwks.json'),
      query: fc.oneof(
        params.map((p) => new URLSearchParams(p).toString()),
        fc.string({ unit: fc.constantFrom(...'a=&%;+:/?#x'.split('')), maxLength: 30 }),
      ),
      body: fc.oneof(
        params.map((p) => new URLSearchParams(p).toString()),
        fc.string({ maxLength: 60 }),
      ),
      authz,
      ctype: fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain'),
    });
    const samples = fc.sample(req, { numRuns: 300, seed: 1234 });
    const statuses = new Map<number | string, number>();
    for (let i = 0; i < samples.length; i += 20) {
      await Promise.all(
        samples.slice(i, i + 20).map(async (s) => {
          const headers: Record<string, string> = { 'content-type': s.ctype };
          if (s.authz !== undefined) headers.authorization = s.authz;
          const q = s.query.replace(/#/g, '%23');
          const hasBody = s.method === 'POST' || s.method === 'PUT';
          if (hasBody) headers['content-length'] = String(Buffer.byteLength(s.body));
          const r = await raw(url, {
            method: s.method,
            path: `${s.path}${q ? `?${q}` : ''}`,
            headers,
            chunks: hasBody ? [Buffer.from(s.body)] : [],
          });
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          assert.ok(r.status !== 'reset' && r.status < 500, `${JSON.stringify(s)} -> ${r.status} ${r.body}`);
        }),
      );
    }
    // The fuzz really exercised several outcomes.
    for (const s of [200, 400, 401])
      assert.ok((statuses.get(s) ?? 0) > 0, `no ${s} in ${JSON.stringify([...statuses])}`);
  });
});

describe('token HTTP server: other configurations', () => {
  test('anonymous disabled: no credentials -> 401 with challenge', async () => {
    const keys = await makeKeys('ES256');
    const srv = await startServer(
      configObject(keys, { auth: { anonymous: false }, users: { alice: cheapHash('pw') } }),
      keys.dir,
    );
    try {
      const r = await getJson(`${srv.url}/token?scope=repository:a:pull`);
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      assert.equal(
        (await getJson(`${srv.url}/token`, { headers: { authorization: basic('alice', 'pw') } })).status,
        200,
      );
    } finally {
      await srv.close();
      keys.cleanup();
    }
  });

  for (const [alg, keyId] of [
    ['RS256', 'thumbprint'],
    ['ES256', 'x5c'],
  ] as const) {
    test(`${alg} with keyId ${keyId}: header and JWKS agree, token verifies`, async () => {
      const keys = await makeKeys(alg);
      const srv = await startServer(
        configObject(keys, {}, { keyId, service: ['registry.test', 'second.test'] }),
        keys.dir,
      );
      try {
        const t = await getJson(`${srv.url}/token?service=second.test`);
        assert.equal(t.status, 200);
        const h = decodeProtectedHeader(String(t.body.token));
        assert.equal(h.alg, alg);
        const jwks = (await getJson(`${srv.url}/.well-known/jwks.json`)).body as { keys: Json[] };
        assert.equal(jwks.keys[0]?.kid, keys.thumbprint);
        if (keyId === 'x5c') {
          assert.equal(h.kid, undefined);
          assert.ok(Array.isArray(h.x5c) && h.x5c.length === 1);
          assert.deepEqual(jwks.keys[0]?.x5c, h.x5c);
        } else assert.equal(h.kid, keys.thumbprint);
        const { payload } = await jwtVerify(String(t.body.token), createLocalJWKSet(jwks as never), {
          audience: 'second.test',
        });
        assert.equal(payload.aud, 'second.test');
      } finally {
        await srv.close();
        keys.cleanup();
      }
    });
  }
});
