// Purser's proxy in front of an open distribution 2.8 (upstreamAuth: none): the proxy is the only gate.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertFails, assertOk } from '../helpers/assert.js';
import { withLogs } from '../helpers/logs.js';
import { OCI_MANIFEST, readLayoutDigest } from '../helpers/oci.js';
import { ALICE, BOB, basic, waitForRegistryRequest } from '../helpers/proxy.js';
import { podmanThroughProxy } from '../helpers/proxy-podman.js';
import { skopeoProxyFixture } from '../helpers/proxy-skopeo.js';

const TIMEOUT = 120_000;

describe('proxy, upstreamAuth none (open distribution)', { timeout: TIMEOUT }, () => {
  const fx = skopeoProxyFixture('none');
  const { logs, docker, outDir } = fx;

  test(
    'skopeo: alice pushes, pulls (digest intact), lists tags, mounts and deletes',
    withLogs(logs, async () => {
      const s = fx.sk;
      assertOk(await s.copy(fx.img.ref, docker('team/app:v1'), { dest: ALICE }), 'push');
      const out = outDir();
      assertOk(await s.copy(docker('team/app:v1'), `oci:${out}:v1`, { src: ALICE }), 'pull');
      assert.equal(readLayoutDigest(out, 'v1'), fx.img.manifestDigest);
      const lt = await s.listTags(docker('team/app'), ALICE);
      assertOk(lt, 'list-tags');
      assert.deepEqual((JSON.parse(lt.stdout) as { Tags: string[] }).Tags, ['v1']);

      const reg = fx.st.registry;
      const from = reg.logs().length;
      assertOk(
        await s.copy(docker('team/app:v1'), docker('team/copy:v1'), { src: ALICE, dest: ALICE }),
        'copy',
      );
      const reqs = await waitForRegistryRequest(reg, from, (r) =>
        r.startsWith('PUT /v2/team/copy/manifests/v1'),
      );
      assert.ok(
        reqs.some(
          (r) =>
            r.startsWith('POST /v2/team/copy/blobs/uploads/?') && r.includes('mount=') && r.endsWith(' 201'),
        ),
        `no successful mount POST reached the registry:\n${reqs.join('\n')}`,
      );

      assertOk(await s.delete(docker('team/app:v1'), ALICE), 'delete');
      assertFails(
        await s.inspect(docker('team/app:v1'), ALICE),
        /manifest unknown|not found/i,
        'inspect after delete',
      );
    }),
  );

  test(
    'the proxy still refuses an unauthenticated push (the upstream would take it)',
    withLogs(logs, async () => {
      const s = fx.sk;
      // The upstream is open: a POST straight to it is accepted.
      const direct = await fetch(`${fx.st.registry.url}/v2/public/anon/blobs/uploads/`, { method: 'POST' });
      await direct.arrayBuffer();
      assert.equal(direct.status, 202);

      assertFails(
        await s.copy(fx.img2.ref, docker('public/anon:v1'), { dest: 'anonymous' }),
        /denied|unauthorized|authentication required/i,
        'anonymous push',
      );
      const res = await fetch(`${fx.st.proxyUrl}/v2/public/anon/blobs/uploads/`, { method: 'POST' });
      const body = (await res.json()) as { errors?: { code?: string }[] };
      assert.equal(res.status, 401);
      assert.equal(body.errors?.[0]?.code, 'UNAUTHORIZED');
      assert.match(res.headers.get('www-authenticate') ?? '', /scope="repository:public\/anon:pull,push"/);
      const del = await fetch(`${fx.st.proxyUrl}/v2/team/app/manifests/${fx.img.manifestDigest}`, {
        method: 'DELETE',
      });
      await del.arrayBuffer();
      assert.equal(del.status, 401);
      // Nothing was written.
      const check = await fetch(`${fx.st.registry.url}/v2/public/anon/manifests/v1`);
      await check.arrayBuffer();
      assert.equal(check.status, 404);
    }),
  );

  test(
    "anonymous callers get what the ACL gives them (pull public/*) through Purser's tokens, no push",
    withLogs(logs, async () => {
      const s = fx.sk;
      assertOk(
        await s.copy(fx.img2.ref, docker('public/app:v1'), { dest: ALICE }),
        'alice pushes public/app',
      );
      const out = outDir();
      assertOk(
        await s.copy(docker('public/app:v1'), `oci:${out}:v1`, { src: 'anonymous' }),
        'anonymous pull',
      );
      assert.equal(readLayoutDigest(out, 'v1'), fx.img2.manifestDigest);
      assertFails(
        await s.copy(fx.img.ref, docker('public/app:v2'), { dest: 'anonymous' }),
        /denied|unauthorized|authentication required/i,
        'anonymous push',
      );
      assertFails(
        await s.copy(docker('team/copy:v1'), `oci:${outDir()}:v1`, { src: 'anonymous' }),
        /denied|unauthorized|authentication required/i,
        'anonymous pull of team/*',
      );
    }),
  );

  test(
    'encoded path traversal in a pull-only request never reaches another repository (open upstream)',
    withLogs(logs, async () => {
      const s = fx.sk;
      const p = fx.st.proxyUrl;
      assertOk(
        await s.copy(fx.img.ref, docker('team/secret:v1'), { dest: ALICE }),
        'alice pushes team/secret',
      );
      const tr = await fetch(
        `${p}/token?service=registry.test&scope=${encodeURIComponent('repository:public/app:pull')}`,
      );
      const { token } = (await tr.json()) as { token: string };
      const headers = { authorization: `Bearer ${token}`, accept: OCI_MANIFEST };
      const secret = `team%2Fsecret`;
      for (const path of [
        `/v2/public/app/manifests/..%2F..%2F${secret}%2Fmanifests%2Fv1`,
        `/v2/public/app/manifests/..%2F..%2F..%2F..%2F${secret}%2Fmanifests%2Fv1`,
        `/v2/public/app/blobs/..%2F..%2F${secret}%2Fblobs%2F${fx.img.layerDigest}`,
        `/v2/public/app/blobs/uploads/..%2F..%2F..%2F${secret}%2Ftags%2Flist`,
        `/v2/public/app/manifests/%2e%2e%2f%2e%2e%2f${secret}%2fmanifests%2fv1`,
        `/v2/public/app/../../${secret}/manifests/v1`,
        `/v2/public/app/manifests/v1%3F/../../../team/secret/manifests/v1`,
        `/v2/team/secret/manifests/v1`,
        `/v2/team/secret/blobs/${fx.img.layerDigest}`,
      ]) {
        const res = await fetch(`${p}${path}`, { headers, redirect: 'manual' });
        const text = await res.text();
        assert.ok(res.status !== 200 && res.status !== 206, `${path}: ${res.status} ${text.slice(0, 200)}`);
        assert.ok(!text.includes(fx.img.configDigest), `${path} leaked team/secret's manifest`);
      }
      // The same token still reads what it was issued for.
      assertOk(
        await s.copy(fx.img2.ref, docker('public/app:v1'), { dest: ALICE }),
        'alice pushes public/app',
      );
      const ok = await fetch(`${p}/v2/public/app/manifests/v1`, { headers });
      await ok.arrayBuffer();
      assert.equal(ok.status, 200);
    }),
  );

  test(
    "bob's push (pull-only) is refused with denied",
    withLogs(logs, async () => {
      assertFails(
        await fx.sk.copy(fx.img.ref, docker('team/bob:v1'), { dest: BOB }),
        /denied/i,
        'bob pushes',
      );
      const res = await fetch(`${fx.st.proxyUrl}/v2/team/bob/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: basic(BOB) },
      });
      const body = (await res.json()) as { errors?: { code?: string }[] };
      assert.equal(res.status, 403);
      assert.equal(body.errors?.[0]?.code, 'DENIED');
    }),
  );
});

podmanThroughProxy('none', TIMEOUT);
