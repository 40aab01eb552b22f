// What the registry acts on is what the proxy decided on (issue 8): form bodies and Go's query
// parsing for mounts, decoded paths, forwarding headers, absolute-form targets, Expect:
// 100-continue and rate-limited logins, against a real, open distribution 2.8 (upstreamAuth
// none: the proxy is the only gate).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { registryAction } from '../helpers/distribution-router.js';
import { withLogs } from '../helpers/logs.js';
import { OCI_MANIFEST } from '../helpers/oci.js';
import { ALICE, BOB, basic, CAROL, type ProxyStack, startProxyStack } from '../helpers/proxy.js';
import { hasFinalResponse, lastStatus, RawConnection, rawRequest } from '../helpers/raw-wire.js';
import { locationUrl, putManifest, sha256, uploadBlob } from '../helpers/registry-api.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const TIMEOUT = 120_000;
const run = promisify(execFile);

describe('proxy wire: the registry acts on what the proxy checked', { timeout: TIMEOUT }, () => {
  let st: ProxyStack;
  let tmp: string;
  let secret: string;
  const logs = () => st?.logSources() ?? [];
  const reg = () => st.registry.url;
  const px = () => st.proxyUrl;

  before(async () => {
    tmp = makeTempDir('purser-wire-');
    st = await startProxyStack({ upstream: 'none' });
    // team/secret holds a blob carol may not pull (put straight into the open registry).
    secret = await uploadBlob(reg(), 'team/secret', `secret layer ${Date.now()}`);
  });
  after(async () => {
    await st?.stop();
    removeDir(tmp);
  });

  const blobIn = async (base: string, repo: string, digest: string): Promise<number> => {
    const r = await fetch(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
    return r.status;
  };

  test(
    "mount tricks that mount team/secret's blob at the registry do not through the proxy (carol pushes carol/*)",
    withLogs(logs, async () => {
      const D = secret;
      const multipart = () => {
        const f = new FormData();
        f.set('mount', D);
        f.set('from', 'team/secret');
        return f;
      };
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const variants: {
        name: string;
        query: string;
        body?: () => string | FormData;
        headers?: Record<string, string>;
        proxyStatus: number;
      }[] = [
        {
          name: 'form body',
          query: '',
          body: () => `mount=${D}&from=team/secret`,
          headers: form,
          proxyStatus: 400,
        },
        {
          name: 'form body, odd case',
          query: '',
          body: () => `mount=${D}&from=team/secret`,
          headers: { 'content-type': ' Application/X-WWW-Form-URLEncoded ; charset=utf-8' },
          proxyStatus: 400,
        },
        { name: 'multipart body', query: '', body: multipart, proxyStatus: 400 },
        // Go drops a pair with a bad escape, then reads the next from.
        { name: 'bad escape', query: `mount=${D}&from=%zz&from=team/secret`, proxyStatus: 202 },
        // Go (>= 1.17) drops a pair with ';'.
        { name: 'semicolon', query: `mount=${D}&from=a;b&from=team/secret`, proxyStatus: 202 },
        {
          name: 'semicolon, valid name',
          query: `mount=${D}&from=carol/x;&from=team/secret`,
          proxyStatus: 202,
        },
        { name: 'repeated from', query: `mount=${D}&from=team/secret&from=carol/x`, proxyStatus: 400 },
      ];
      let n = 0;
      const problems: string[] = [];
      for (const v of variants) {
        const repo = `carol/m${n++}`;
        const init = (extra: Record<string, string>) => ({
          method: 'POST',
          headers: { ...(v.headers ?? {}), ...extra },
          ...(v.body ? { body: v.body() } : {}),
        });
        const url = (base: string, r: string) =>
          `${base}/v2/${r}/blobs/uploads/${v.query ? `?${v.query}` : ''}`;
        // At the registry itself the trick mounts the blob: that is what the proxy must not let through.
        const direct = await fetch(url(reg(), `${repo}-direct`), init({}));
        await direct.arrayBuffer();
        assert.equal(direct.status, 201, `${v.name}: the registry itself mounts`);

        const res = await fetch(url(px(), repo), init({ authorization: basic(CAROL) }));
        const text = await res.text();
        if (res.status !== v.proxyStatus)
          problems.push(`${v.name}: HTTP ${res.status} ${text.slice(0, 120)}`);
        if (res.status === 400 && !/"errors":\[\{"code":"[A-Z_]+"/.test(text))
          problems.push(`${v.name}: not a registry error body: ${text.slice(0, 120)}`);
        if ((await blobIn(reg(), repo, D)) !== 404) problems.push(`${v.name}: the blob reached ${repo}`);
      }
      assert.deepEqual(problems, []);
      // A plain mount of carol's own blob still is a mount.
      const own = await uploadBlob(px(), 'carol/src', 'carol layer', { authorization: basic(CAROL) });
      const m = await fetch(`${px()}/v2/carol/dst/blobs/uploads/?mount=${own}&from=carol/src`, {
        method: 'POST',
        headers: { authorization: basic(CAROL) },
      });
      await m.arrayBuffer();
      assert.equal(m.status, 201);
    }),
  );

  test(
    'an encoded / or dot segment never reaches another repository; harmless escapes are decoded',
    withLogs(logs, async () => {
      // public/app/manifests/leak is a repository of its own, which public/app's token does not cover.
      const leak = await putManifest(reg(), 'public/app/manifests/leak', '1');
      await putManifest(reg(), 'public/app', 'v1');
      const direct = await fetch(`${reg()}/v2/public/app/manifests/leak%2Fmanifests%2F1`, {
        headers: { accept: OCI_MANIFEST },
      });
      assert.equal(await direct.text(), leak, 'the registry decodes %2F and serves the other repository');

      const tr = await fetch(`${px()}/token?service=registry.test&scope=repository:public/app:pull`);
      const { token } = (await tr.json()) as { token: string };
      const headers = { authorization: `Bearer ${token}`, accept: OCI_MANIFEST };
      for (const path of [
        '/v2/public/app/manifests/leak%2Fmanifests%2F1',
        '/v2/public/app/manifests/leak%2fmanifests%2f1',
        '/v2/public/app/manifests/leak%252Fmanifests%252F1',
        '/v2/public/app%2Fmanifests%2Fleak/manifests/1',
        '/v2/public/app/manifests/leak/manifests/1',
        '/v2/public/app/x/%2e%2e/manifests/leak/manifests/1',
        '/v2/public/app/x/%2E./manifests/leak/manifests/1',
        '/v2/public/app/./manifests/leak/manifests/1',
        '/v2/public/app//manifests/leak/manifests/1',
        '/v2/public/app/manifests/leak%2Fmanifests%2F1%2F',
      ]) {
        const res = await fetch(`${px()}${path}`, { headers, redirect: 'manual' });
        const text = await res.text();
        assert.ok([400, 401, 403, 404].includes(res.status), `${path}: ${res.status} ${text.slice(0, 200)}`);
        assert.notEqual(text, leak, `${path} leaked public/app/manifests/leak`);
      }
      // Escapes of ordinary characters are decoded and forwarded in canonical form.
      const ok = await fetch(`${px()}/v2/public/%61pp/manifests/%76%31`, { headers });
      await ok.arrayBuffer();
      assert.equal(ok.status, 200);
    }),
  );

  test(
    "a client's Forwarded / X-Forwarded-Host / -Proto headers do not reach the registry",
    withLogs(logs, async () => {
      const res = await fetch(`${px()}/v2/carol/fwd/blobs/uploads/`, {
        method: 'POST',
        headers: {
          authorization: basic(CAROL),
          forwarded: 'host=evil.example;proto=https',
          'x-forwarded-host': 'evil2.example',
          'x-forwarded-proto': 'gopher',
          'x-forwarded-prefix': '/evil',
        },
      });
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      const loc = res.headers.get('location') ?? '';
      assert.ok(loc.startsWith(`${px()}/v2/carol/fwd/blobs/uploads/`), `upload Location ${loc}`);
    }),
  );

  test(
    'absolute-form request targets work on the proxy and the token server; the authority decides nothing',
    withLogs(logs, async () => {
      const auth = basic(CAROL);
      const start = await rawRequest(
        px(),
        `POST http://evil.example/v2/carol/abs/blobs/uploads/ HTTP/1.1\r\nHost: evil.example\r\nAuthorization: ${auth}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(lastStatus(start), 202, start);
      const loc = /\r\nlocation: (\S+)/i.exec(start)?.[1];
      assert.ok(loc, start);
      const body = 'absolute-form layer';
      const u = new URL(locationUrl(px(), loc));
      u.searchParams.set('digest', sha256(body));
      const put = await rawRequest(
        px(),
        `PUT http://other.example${u.pathname}${u.search} HTTP/1.1\r\nHost: other.example\r\nAuthorization: ${auth}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      assert.equal(lastStatus(put), 201, put);
      assert.equal(await blobIn(reg(), 'carol/abs', sha256(body)), 200);

      // What is checked is the path: an absolute-form target is no way around it.
      const denied = await rawRequest(
        px(),
        `GET http://127.0.0.1/v2/team/secret/blobs/${secret} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(lastStatus(denied), 403, denied);
      const sneaky = await rawRequest(
        px(),
        `GET http://x/v2/carol/abs/../../team/secret/blobs/${secret} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(lastStatus(sneaky), 400, sneaky);

      const tok = await rawRequest(
        st.purser.url,
        'GET http://whatever.example/token?service=registry.test&scope=repository:public/app:pull HTTP/1.1\r\nHost: whatever.example\r\nConnection: close\r\n\r\n',
      );
      assert.equal(lastStatus(tok), 200, tok);
      assert.match(tok, /"token":"ey/);
      const viaProxy = await rawRequest(
        px(),
        'GET HTTP://whatever.example/token?service=registry.test HTTP/1.1\r\nHost: whatever.example\r\nConnection: close\r\n\r\n',
      );
      assert.equal(lastStatus(viaProxy), 200, viaProxy);
    }),
  );

  test(
    'Expect: 100-continue: a refused upload gets its answer without 100 Continue, a permitted one gets 100 and lands',
    withLogs(logs, async () => {
      const body = Buffer.from(`expect-continue layer ${Date.now()}`);
      const digest = sha256(body);
      const start = await fetch(`${px()}/v2/carol/exp/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: basic(CAROL) },
      });
      await start.arrayBuffer();
      const u = new URL(locationUrl(px(), start.headers.get('location')));
      u.searchParams.set('digest', digest);
      const head = (auth: string | undefined) =>
        `PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`;

      for (const [who, auth, status] of [
        ['nobody', undefined, 401],
        ['bob (pull-only)', basic(BOB), 403],
      ] as const) {
        const c = await RawConnection.open(px());
        c.send(head(auth));
        const got = await c.waitFor(hasFinalResponse);
        c.close();
        assert.doesNotMatch(got, /100 Continue/i, `${who}: 100 Continue before the refusal`);
        assert.equal(lastStatus(got), status, `${who}: ${got}`);
        assert.match(
          got,
          /\r\nconnection: close\r\n/i,
          `${who}: the unsent body leaves the connection unusable`,
        );
      }

      const c = await RawConnection.open(px());
      c.send(head(basic(CAROL)));
      const interim = await c.waitFor((t) => /^HTTP\/1\.1 100 Continue\r\n\r\n/.test(t), 5_000);
      assert.match(interim, /^HTTP\/1\.1 100 Continue\r\n\r\n/, interim);
      c.send(body);
      const got = await c.waitFor(hasFinalResponse);
      c.close();
      assert.equal(lastStatus(got), 201, got);
      assert.equal(await blobIn(reg(), 'carol/exp', digest), 200);

      // curl -T sends Expect: 100-continue and waits for it.
      const file = join(tmp, 'layer.bin');
      const data = Buffer.alloc(2 * 1024 * 1024 + 17, 7);
      writeFileSync(file, data);
      const s2 = await fetch(`${px()}/v2/carol/curl/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: basic(CAROL) },
      });
      await s2.arrayBuffer();
      const u2 = new URL(locationUrl(px(), s2.headers.get('location')));
      u2.searchParams.set('digest', sha256(data));
      const { stdout, stderr } = await run('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        'Expect: 100-continue',
        '-H',
        'Content-Type: application/octet-stream',
        '-u',
        `${CAROL.username}:${CAROL.password}`,
        '-T',
        file,
        u2.toString(),
      ]);
      assert.equal(stdout, '201', stderr);
      assert.equal(await blobIn(reg(), 'carol/curl', sha256(data)), 200);
    }),
  );

  test(
    'a rate-limited login through the proxy is 429 TOOMANYREQUESTS with Retry-After, not 401',
    withLogs(logs, async () => {
      const auth = basic({ username: 'mallet', password: 'guess' });
      let last: Response | undefined;
      for (let i = 0; i < 15; i++) {
        last = await fetch(`${px()}/v2/public/app/tags/list`, { headers: { authorization: auth } });
        await last.arrayBuffer();
        if (last.status === 429) break;
        assert.equal(last.status, 401);
      }
      assert.equal(last?.status, 429);
      assert.match(last?.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      const again = await fetch(`${px()}/v2/public/app/tags/list`, { headers: { authorization: auth } });
      const body = (await again.json()) as { errors: { code: string }[] };
      assert.equal(again.status, 429);
      assert.equal(body.errors[0]?.code, 'TOOMANYREQUESTS');
      assert.equal(again.headers.get('www-authenticate'), null);
      // The lockout is per user: alice is unaffected.
      const ok = await fetch(`${px()}/v2/public/app/tags/list`, { headers: { authorization: basic(ALICE) } });
      await ok.arrayBuffer();
      assert.equal(ok.status, 200);
    }),
  );

  test(
    'differential: the model of distribution agrees with the real registry, and a pull-only token reads only its repository',
    withLogs(logs, async () => {
      // Repositories whose names are other repositories' route tails.
      const repos = ['public/app', 'public/app/manifests/leak', 'public/app/tags/list', 'public/app/blobs/x'];
      const bodies = new Map<string, string>();
      for (const r of repos) bodies.set(await putManifest(reg(), r, '1'), r);
      const name = fc.constantFrom(...repos).chain((r) =>
        fc.array(fc.constantFrom('/', '%2F', '%2f'), { minLength: 4, maxLength: 4 }).map((seps) =>
          r
            .split('/')
            .map((c, i) => (i ? seps[i - 1] : '') + c)
            .join(''),
        ),
      );
      const target = fc
        .record({
          name,
          tail: fc.constantFrom(
            'manifests/1',
            'tags/list',
            'manifests%2F1',
            'tags%2Flist',
            'manifests/%31',
            'manifests/1/',
          ),
          dots: fc.constantFrom('', '', '/x/..', '/x/%2e%2e', '/.', '/%2E', '/'),
          join: fc.constantFrom('/', '/', '%2F', '%2f'),
        })
        .map((t) => `/v2/${t.name}${t.dots}${t.join}${t.tail}`);
      const targets = [
        ...new Set([
          '/v2/public/app/manifests/1',
          '/v2/public/app/tags/list',
          '/v2/public/app/manifests/%31',
          '/v2/public/%61pp/tags/list',
          '/v2/public/app/manifests/leak%2Fmanifests%2F1',
          ...fc.sample(target, { numRuns: 100, seed: 8 }),
        ]),
      ];

      const tr = await fetch(`${px()}/token?service=registry.test&scope=repository:public/app:pull`);
      const { token } = (await tr.json()) as { token: string };
      // fetch would remove dot segments itself: these go over a bare socket, as written.
      const get = async (base: string, t: string, auth?: string) => {
        const c = await RawConnection.open(base);
        c.send(
          `GET ${t} HTTP/1.1\r\nHost: x\r\nAccept: ${OCI_MANIFEST}\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Connection: close\r\n\r\n`,
        );
        const text = await c.waitFor(() => false);
        c.close();
        const end = text.indexOf('\r\n\r\n');
        let body = text.slice(end + 4);
        if (/\r\ntransfer-encoding: chunked/i.test(text.slice(0, end)))
          body = body.replace(/(?:^|\r\n)[0-9a-f]+\r\n/gi, '').replace(/\r\n$/, '');
        return { status: lastStatus(text.slice(0, end + 4)), body };
      };
      // Which repository a response shows: the tag list's name, or whose manifest it is.
      const actedOn = (r: { status: number; body: string }): string | undefined => {
        if (r.status !== 200) return undefined;
        return bodies.get(r.body) ?? (JSON.parse(r.body) as { name?: string }).name ?? 'unknown';
      };
      let otherRepoDirect = 0;
      let passed = 0;
      const problems: string[] = [];
      for (const t of targets) {
        const model = registryAction({ method: 'GET', target: t });
        const direct = await get(reg(), t);
        const directRepo = actedOn(direct);
        const expected =
          model.kind === 'redirect'
            ? 301
            : model.kind === 'bad-request'
              ? 400
              : model.kind === 'route'
                ? 200
                : 404;
        if (direct.status !== expected)
          problems.push(`${t}: registry ${direct.status}, model ${JSON.stringify(model)}`);
        if (model.kind === 'route' && directRepo !== model.name)
          problems.push(`${t}: registry acted on ${directRepo}, model says ${model.name}`);
        if (directRepo && directRepo !== 'public/app') otherRepoDirect++;

        const via = await get(px(), t, `Bearer ${token}`);
        const viaRepo = actedOn(via);
        if (viaRepo !== undefined && viaRepo !== 'public/app')
          problems.push(`${t}: through the proxy, a public/app token read ${viaRepo}`);
        if (via.status === 200) passed++;
      }
      assert.deepEqual(problems, []);
      assert.ok(passed >= 4, `only ${passed} of ${targets.length} targets were read through the proxy`);
      assert.ok(
        otherRepoDirect > 5,
        `only ${otherRepoDirect} of ${targets.length} targets reach another repository directly`,
      );
    }),
  );
});
