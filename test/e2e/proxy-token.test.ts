// Purser's proxy in front of distribution 2.8 with auth.token trusting Purser's key
// (upstreamAuth: token): skopeo and podman use the proxy's address as the registry.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeKeyPair } from '../../src/cli/keys.js';
import { KeyRing } from '../../src/token/keyring.js';
import { assertFails, assertOk, BAD_CREDENTIALS } from '../helpers/assert.js';
import { withLogs } from '../helpers/logs.js';
import { OCI_MANIFEST, readLayoutDigest } from '../helpers/oci.js';
import { getFreePort } from '../helpers/ports.js';
import {
  ALICE,
  BOB,
  basic,
  CAROL,
  ISSUER,
  type ProxyStack,
  SERVICE,
  settledLogRecords,
  startProxyStack,
  waitForRegistryRequest,
} from '../helpers/proxy.js';
import { podmanThroughProxy } from '../helpers/proxy-podman.js';
import { skopeoProxyFixture } from '../helpers/proxy-skopeo.js';

const TIMEOUT = 120_000;

interface TagsOut {
  Tags: string[];
}
interface ErrorsBody {
  errors?: { code?: string; message?: string }[];
}

describe('proxy, upstreamAuth token (distribution trusts Purser)', { timeout: TIMEOUT }, () => {
  const fx = skopeoProxyFixture('token');
  const { logs, docker, outDir } = fx;
  // The image the read-only tests use (runs after the fixture's own before hook).
  before(async () => {
    assertOk(
      await fx.sk.copy(fx.img.ref, docker('team/base:v1'), { dest: ALICE }),
      'seed push of team/base:v1',
    );
  });
  /** A token from the proxy's own /token endpoint. */
  const tokenFor = async (who: { username: string; password: string }, scopes: string[]): Promise<string> => {
    const q = new URLSearchParams({ service: SERVICE });
    for (const sc of scopes) q.append('scope', sc);
    const res = await fetch(`${fx.st.proxyUrl}/token?${q}`, { headers: { authorization: basic(who) } });
    const body = (await res.json()) as { token?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.token ?? '';
  };

  test(
    'skopeo: alice pushes, pulls (digest intact), lists tags and deletes through the proxy',
    withLogs(logs, async () => {
      const s = fx.sk;
      assertOk(await s.copy(fx.img.ref, docker('team/app:v1'), { dest: ALICE }), 'push v1');
      assertOk(await s.copy(fx.img.ref, docker('team/app:v2'), { dest: ALICE }), 'push v2');

      const out = outDir();
      assertOk(await s.copy(docker('team/app:v1'), `oci:${out}:v1`, { src: ALICE }), 'pull');
      assert.equal(readLayoutDigest(out, 'v1'), fx.img.manifestDigest, 'pulled manifest is the pushed one');

      const lt = await s.listTags(docker('team/app'), ALICE);
      assertOk(lt, 'list-tags');
      assert.deepEqual((JSON.parse(lt.stdout) as TagsOut).Tags.sort(), ['v1', 'v2']);

      assertOk(await s.delete(docker('team/app:v1'), ALICE), 'delete');
      assertFails(
        await s.inspect(docker('team/app:v1'), ALICE),
        /manifest unknown|not found/i,
        'inspect after delete',
      );

      // Purser logged the requests it forwarded, with the caller's account.
      const proxied = await settledLogRecords(fx.st.purser, 'proxied');
      assert.ok(
        proxied.some(
          (r) => r.method === 'PUT' && r.path === '/v2/team/app/manifests/v1' && r.account === 'alice',
        ),
        'a proxied manifest PUT by alice',
      );
      assert.ok(
        proxied.some(
          (r) => r.method === 'DELETE' && String(r.path).startsWith('/v2/team/app/manifests/sha256:'),
        ),
        'a proxied manifest DELETE',
      );
    }),
  );

  test(
    'bob (pull-only on team/*) pulls, but his push is refused with denied',
    withLogs(logs, async () => {
      const s = fx.sk;
      const out = outDir();
      assertOk(await s.copy(docker('team/base:v1'), `oci:${out}:v1`, { src: BOB }), 'bob pulls team/base');
      assert.equal(readLayoutDigest(out, 'v1'), fx.img.manifestDigest);

      const r = await s.copy(fx.img2.ref, docker('team/bob:v1'), { dest: BOB });
      assertFails(r, /denied/i, 'bob pushes team/bob');
      // Nothing reached the registry's storage.
      assertFails(await s.inspect(docker('team/bob:v1'), ALICE), /manifest unknown|not found/i, 'inspect');

      // Directly with Basic credentials: 403 DENIED in the registry's error format.
      const res = await fetch(`${fx.st.proxyUrl}/v2/team/bob/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: basic(BOB) },
      });
      const body = (await res.json()) as ErrorsBody;
      assert.equal(res.status, 403);
      assert.equal(body.errors?.[0]?.code, 'DENIED');
    }),
  );

  test(
    'a wrong password is refused (skopeo and direct Basic)',
    withLogs(logs, async () => {
      const s = fx.sk;
      const wrong = { username: 'alice', password: 'not-the-password' };
      assertFails(
        await s.copy(fx.img2.ref, docker('team/wrong:v1'), { dest: wrong }),
        BAD_CREDENTIALS,
        'push',
      );
      assertFails(await s.listTags(docker('team/base'), wrong), BAD_CREDENTIALS, 'list-tags');
      const res = await fetch(`${fx.st.proxyUrl}/v2/team/base/manifests/v1`, {
        headers: { authorization: basic(wrong), accept: OCI_MANIFEST },
      });
      const body = (await res.json()) as ErrorsBody;
      assert.equal(res.status, 401);
      assert.equal(body.errors?.[0]?.code, 'UNAUTHORIZED');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
    }),
  );

  test(
    'no credentials: 401 with a Bearer challenge for the proxy realm naming the needed scope',
    withLogs(logs, async () => {
      const p = fx.st.proxyUrl;
      const get = await fetch(`${p}/v2/team/app/manifests/latest`);
      await get.arrayBuffer();
      assert.equal(get.status, 401);
      assert.equal(
        get.headers.get('www-authenticate'),
        `Bearer realm="${p}/token",service="${SERVICE}",scope="repository:team/app:pull"`,
      );
      assert.equal(get.headers.get('docker-distribution-api-version'), 'registry/2.0');

      const post = await fetch(`${p}/v2/team/app/blobs/uploads/`, { method: 'POST' });
      const body = (await post.json()) as ErrorsBody;
      assert.equal(post.status, 401);
      assert.equal(body.errors?.[0]?.code, 'UNAUTHORIZED');
      assert.equal(
        post.headers.get('www-authenticate'),
        `Bearer realm="${p}/token",service="${SERVICE}",scope="repository:team/app:pull,push"`,
      );

      const base = await fetch(`${p}/v2/`);
      await base.arrayBuffer();
      assert.equal(base.status, 401);
      assert.equal(base.headers.get('www-authenticate'), `Bearer realm="${p}/token",service="${SERVICE}"`);

      // Purser logs each refusal.
      const refused = await settledLogRecords(fx.st.purser, 'proxy request refused');
      assert.ok(refused.some((r) => r.path === '/v2/team/app/manifests/latest' && r.status === 401));
    }),
  );

  test(
    "Basic credentials sent straight to a manifest GET work in one round trip; Purser's bearer tokens too",
    withLogs(logs, async () => {
      const p = fx.st.proxyUrl;
      const res = await fetch(`${p}/v2/team/base/manifests/v1`, {
        headers: { authorization: basic(ALICE), accept: OCI_MANIFEST },
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.equal(res.headers.get('docker-content-digest'), fx.img.manifestDigest);
      assert.equal((JSON.parse(text) as { schemaVersion: number }).schemaVersion, 2);

      const head = await fetch(`${p}/v2/team/base/manifests/v1`, {
        method: 'HEAD',
        headers: { authorization: basic(BOB), accept: OCI_MANIFEST },
      });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('docker-content-digest'), fx.img.manifestDigest);

      // A token from the proxy's own /token endpoint.
      const tr = await fetch(
        `${p}/token?service=${SERVICE}&scope=${encodeURIComponent('repository:team/base:pull')}`,
        { headers: { authorization: basic(BOB) } },
      );
      assert.equal(tr.status, 200);
      const { token } = (await tr.json()) as { token: string };
      const viaBearer = await fetch(`${p}/v2/team/base/manifests/v1`, {
        headers: { authorization: `Bearer ${token}`, accept: OCI_MANIFEST },
      });
      await viaBearer.arrayBuffer();
      assert.equal(viaBearer.status, 200);
      assert.equal(viaBearer.headers.get('docker-content-digest'), fx.img.manifestDigest);
      // The same token does not cover a push.
      const push = await fetch(`${p}/v2/team/base/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await push.json()) as ErrorsBody;
      // As the registry answers a token lacking the action: 401 UNAUTHORIZED, insufficient_scope.
      assert.equal(push.status, 401);
      assert.equal(body.errors?.[0]?.code, 'UNAUTHORIZED');
      assert.match(push.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
    }),
  );

  test(
    'an expired token or one signed by another key gets 401 invalid_token',
    withLogs(logs, async () => {
      const p = fx.st.proxyUrl;
      const scope = [{ type: 'repository', name: 'team/base', actions: ['pull'] }];
      const ours = await KeyRing.load([{ key: fx.st.keys.key, certificate: fx.st.keys.crt }], {
        issuer: ISSUER,
        keyId: 'libtrust',
        expiresIn: 300,
      });
      const expired = ours.signer.issue('alice', SERVICE, scope, Date.now() - 600_000).token;
      const otherDir = fx.outDir(); // a temp dir removed after the suite
      const k = await writeKeyPair(join(otherDir, 'k'), 'ES256');
      const theirs = await KeyRing.load([{ key: k.keyPath, certificate: k.crtPath }], {
        issuer: ISSUER,
        keyId: 'libtrust',
        expiresIn: 300,
      });
      const foreign = theirs.signer.issue('alice', SERVICE, scope).token;
      // Sanity: a fresh token of ours works.
      const fresh = ours.signer.issue('alice', SERVICE, scope).token;
      for (const [what, token, want] of [
        ['fresh', fresh, 200],
        ['expired', expired, 401],
        ['foreign-key', foreign, 401],
        ['garbage', 'abc.def.ghi', 401],
      ] as const) {
        const res = await fetch(`${p}/v2/team/base/manifests/v1`, {
          headers: { authorization: `Bearer ${token}`, accept: OCI_MANIFEST },
        });
        const text = await res.text();
        assert.equal(res.status, want, `${what}: ${text}`);
        if (want === 401) {
          assert.equal((JSON.parse(text) as ErrorsBody).errors?.[0]?.code, 'UNAUTHORIZED', what);
          const h = res.headers.get('www-authenticate') ?? '';
          assert.match(h, /^Bearer realm="[^"]+\/token"/, what);
          assert.match(h, /error="invalid_token"/, what);
        }
      }
    }),
  );

  test(
    "an upload's Location header points at the proxy, not the upstream",
    withLogs(logs, async () => {
      const p = fx.st.proxyUrl;
      const res = await fetch(`${p}/v2/team/loc/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: basic(ALICE) },
      });
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      const loc = res.headers.get('location') ?? '';
      assert.ok(loc.startsWith(`${p}/v2/team/loc/blobs/uploads/`), `Location ${loc}`);
      assert.ok(!loc.includes(fx.st.registry.host), `Location ${loc} names the upstream`);
      assert.ok(res.headers.get('docker-upload-uuid'), 'Docker-Upload-UUID passed through');
      // The upload's status can be read at that address.
      const status = await fetch(loc, { headers: { authorization: basic(ALICE) } });
      await status.arrayBuffer();
      assert.equal(status.status, 204);
      const loc2 = status.headers.get('location') ?? '';
      assert.ok(loc2.startsWith(`${p}/v2/team/loc/blobs/uploads/`), `status Location ${loc2}`);
    }),
  );

  test(
    'an upload can be cancelled (DELETE) through the proxy',
    withLogs(logs, async () => {
      const p = fx.st.proxyUrl;
      const res = await fetch(`${p}/v2/team/cancel/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: basic(ALICE) },
      });
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      const loc = res.headers.get('location') ?? '';
      const del = await fetch(loc, { method: 'DELETE', headers: { authorization: basic(ALICE) } });
      const text = await del.text();
      assert.equal(del.status, 204, `DELETE ${loc}: ${del.status} ${text}`);
    }),
  );

  test(
    'a chunked upload (POST, PATCH, PATCH, PUT ?digest) through the proxy; HEAD and GET of the blob',
    withLogs(logs, async () => {
      const p = fx.st.proxyUrl;
      const auth = { authorization: basic(ALICE) };
      const data = randomBytes(3 * 1024 * 1024 + 123);
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      const start = await fetch(`${p}/v2/team/chunked/blobs/uploads/`, { method: 'POST', headers: auth });
      await start.arrayBuffer();
      assert.equal(start.status, 202);
      let loc = start.headers.get('location') ?? '';
      const cut = 2 * 1024 * 1024;
      for (const [from, to] of [
        [0, cut],
        [cut, data.length],
      ] as const) {
        const res = await fetch(loc, {
          method: 'PATCH',
          headers: {
            ...auth,
            'content-type': 'application/octet-stream',
            'content-range': `${from}-${to - 1}`,
            'content-length': String(to - from),
          },
          body: data.subarray(from, to),
        });
        const text = await res.text();
        assert.equal(res.status, 202, `PATCH ${from}-${to - 1}: ${text}`);
        assert.equal(res.headers.get('range'), `0-${to - 1}`);
        loc = res.headers.get('location') ?? '';
        assert.ok(loc.startsWith(`${p}/`), `Location ${loc}`);
      }
      const put = await fetch(`${loc}${loc.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`, {
        method: 'PUT',
        headers: { ...auth, 'content-length': '0' },
      });
      const putText = await put.text();
      assert.equal(put.status, 201, putText);
      assert.equal(put.headers.get('docker-content-digest'), digest);
      assert.ok((put.headers.get('location') ?? '').startsWith(`${p}/v2/team/chunked/blobs/${digest}`));

      const head = await fetch(`${p}/v2/team/chunked/blobs/${digest}`, { method: 'HEAD', headers: auth });
      assert.equal(head.status, 200);
      assert.equal(Number(head.headers.get('content-length')), data.length);
      assert.equal(head.headers.get('docker-content-digest'), digest);
      const get = await fetch(`${p}/v2/team/chunked/blobs/${digest}`, { headers: auth });
      const got = Buffer.from(await get.arrayBuffer());
      assert.equal(get.status, 200);
      assert.ok(got.equals(data), 'the blob reads back whole');
    }),
  );

  test(
    'catalog: alice (with *) gets it, bob does not',
    withLogs(logs, async () => {
      const p = fx.st.proxyUrl;
      const a = await fetch(`${p}/v2/_catalog`, { headers: { authorization: basic(ALICE) } });
      const text = await a.text();
      assert.equal(a.status, 200, text);
      const repos = (JSON.parse(text) as { repositories: string[] }).repositories;
      assert.ok(repos.includes('team/base'), text);

      const b = await fetch(`${p}/v2/_catalog`, { headers: { authorization: basic(BOB) } });
      const body = (await b.json()) as ErrorsBody;
      assert.equal(b.status, 403);
      assert.equal(body.errors?.[0]?.code, 'DENIED');

      // And via a token: bob's token for the catalog carries no access.
      const tr = await fetch(
        `${p}/token?service=${SERVICE}&scope=${encodeURIComponent('registry:catalog:*')}`,
        {
          headers: { authorization: basic(BOB) },
        },
      );
      const { token } = (await tr.json()) as { token: string };
      const bt = await fetch(`${p}/v2/_catalog`, { headers: { authorization: `Bearer ${token}` } });
      await bt.arrayBuffer();
      assert.ok(bt.status === 401 || bt.status === 403, `status ${bt.status}`);
    }),
  );

  test(
    'cross-repository mount: alice mounts; for carol (no pull on the source) the mount is dropped and the copy still works',
    withLogs(logs, async () => {
      const s = fx.sk;
      const reg = fx.st.registry;
      const p = fx.st.proxyUrl;
      // alice: team/base -> team/mounted, both through the proxy.
      let from = reg.logs().length;
      assertOk(
        await s.copy(docker('team/base:v1'), docker('team/mounted:v1'), { src: ALICE, dest: ALICE }),
        'alice copies team/base -> team/mounted',
      );
      let reqs = await waitForRegistryRequest(reg, from, (r) =>
        r.startsWith('PUT /v2/team/mounted/manifests/v1'),
      );
      const mounts = reqs.filter(
        (r) => r.startsWith('POST /v2/team/mounted/blobs/uploads/?') && r.includes('mount='),
      );
      assert.ok(mounts.length > 0, `no mount POST reached the registry:\n${reqs.join('\n')}`);
      assert.ok(
        mounts.some((r) => r.endsWith(' 201') && /from=team(%2F|\/)base/.test(r)),
        `no successful mount from team/base:\n${mounts.join('\n')}`,
      );
      let out = outDir();
      assertOk(await s.copy(docker('team/mounted:v1'), `oci:${out}:v1`, { src: ALICE }), 'pull team/mounted');
      assert.equal(readLayoutDigest(out, 'v1'), fx.img.manifestDigest);

      // A direct mount by alice (Basic credentials): 201, Location at the proxy.
      const direct = await fetch(
        `${p}/v2/team/mounted2/blobs/uploads/?mount=${encodeURIComponent(fx.img.layerDigest)}&from=team/base`,
        { method: 'POST', headers: { authorization: basic(ALICE) } },
      );
      await direct.arrayBuffer();
      assert.equal(direct.status, 201, 'alice mounts the layer directly');
      assert.ok((direct.headers.get('location') ?? '').startsWith(`${p}/v2/team/mounted2/blobs/`));

      // carol may do anything in carol/* but may not pull team/*. With a token (which then
      // lacks team/base:pull), the answer is the registry's: 401 insufficient_scope naming the
      // source's scope, and nothing reaches the registry.
      {
        const token = await tokenFor(CAROL, [
          'repository:carol/direct:pull,push',
          'repository:team/base:pull',
        ]);
        from = reg.logs().length;
        const res = await fetch(
          `${p}/v2/carol/direct/blobs/uploads/?mount=${encodeURIComponent(fx.img.layerDigest)}&from=team/base`,
          { method: 'POST', headers: { authorization: `Bearer ${token}` } },
        );
        const body = (await res.json()) as ErrorsBody;
        assert.equal(res.status, 401, "bearer: carol's mount without pull on the source");
        assert.equal(body.errors?.[0]?.code, 'UNAUTHORIZED');
        const challenge = res.headers.get('www-authenticate') ?? '';
        assert.match(challenge, /error="insufficient_scope"/);
        assert.match(challenge, /scope="repository:carol\/direct:pull,push repository:team\/base:pull"/);
      }
      // With Basic credentials Purser decides: her mount is passed on as a plain upload (202),
      // with mount/from stripped, and the blob is not linked.
      for (const [how, authorization] of [['basic', basic(CAROL)]] as const) {
        from = reg.logs().length;
        const res = await fetch(
          `${p}/v2/carol/direct/blobs/uploads/?mount=${encodeURIComponent(fx.img.layerDigest)}&from=team/base`,
          { method: 'POST', headers: { authorization } },
        );
        await res.arrayBuffer();
        assert.equal(res.status, 202, `${how}: carol's mount became an ordinary upload`);
        assert.ok((res.headers.get('location') ?? '').startsWith(`${p}/v2/carol/direct/blobs/uploads/`), how);
        reqs = await waitForRegistryRequest(reg, from, (x) => x.startsWith('POST /v2/carol/direct/'));
        const posts = reqs.filter((x) => x.startsWith('POST /v2/carol/direct/blobs/uploads/'));
        assert.deepEqual(posts, ['POST /v2/carol/direct/blobs/uploads/ 202'], `${how}:\n${reqs.join('\n')}`);
        const head = await fetch(`${p}/v2/carol/direct/blobs/${fx.img.layerDigest}`, {
          method: 'HEAD',
          headers: { authorization: basic(CAROL) },
        });
        assert.equal(head.status, 404, `${how}: the layer must not have been mounted into carol/direct`);
      }

      // And a real client copy with carol as the writer still succeeds.
      const r = await s.copy(docker('team/base:v1'), docker('carol/copy:v1'), { src: ALICE, dest: CAROL });
      assertOk(r, 'copy team/base (alice) -> carol/copy (carol)');
      out = outDir();
      assertOk(
        await s.copy(docker('carol/copy:v1'), `oci:${out}:v1`, { src: CAROL }),
        'carol pulls carol/copy',
      );
      assert.equal(readLayoutDigest(out, 'v1'), fx.img.manifestDigest);
    }),
  );
});

describe('proxy, upstreamAuth token: externalUrl', { timeout: TIMEOUT }, () => {
  let st: ProxyStack | undefined;
  let external = '';
  const logs = () => st?.logSources() ?? [];

  before(async () => {
    const port = await getFreePort();
    external = `http://localhost:${port}`;
    st = await startProxyStack({
      upstream: 'token',
      proxy: { listen: `127.0.0.1:${port}`, externalUrl: external },
    });
  });
  after(async () => {
    await st?.stop();
  });

  test(
    'challenges and upload Locations name the external URL',
    withLogs(logs, async () => {
      const p = st!.proxyUrl;
      const res = await fetch(`${p}/v2/team/app/tags/list`);
      await res.arrayBuffer();
      assert.equal(res.status, 401);
      assert.equal(
        res.headers.get('www-authenticate'),
        `Bearer realm="${external}/token",service="${SERVICE}",scope="repository:team/app:pull"`,
      );
      const up = await fetch(`${p}/v2/team/app/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: basic(ALICE) },
      });
      await up.arrayBuffer();
      assert.equal(up.status, 202);
      const loc = up.headers.get('location') ?? '';
      assert.ok(loc.startsWith(`${external}/v2/team/app/blobs/uploads/`), `Location ${loc}`);
    }),
  );
});

podmanThroughProxy('token', TIMEOUT);
