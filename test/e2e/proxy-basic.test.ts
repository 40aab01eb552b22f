// Purser's proxy in front of distribution 2.8 behind htpasswd (upstreamAuth: { basic }).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertFails, assertOk } from '../helpers/assert.js';
import { withLogs } from '../helpers/logs.js';
import { readLayoutDigest } from '../helpers/oci.js';
import {
  ALICE,
  BOB,
  basic,
  settledLogRecords,
  UPSTREAM_USER,
  waitForRegistryRequest,
} from '../helpers/proxy.js';
import { podmanThroughProxy } from '../helpers/proxy-podman.js';
import { skopeoProxyFixture } from '../helpers/proxy-skopeo.js';

const TIMEOUT = 120_000;

describe('proxy, upstreamAuth basic (distribution with htpasswd)', { timeout: TIMEOUT }, () => {
  const fx = skopeoProxyFixture('basic');
  const { logs, docker, outDir } = fx;

  test(
    'the upstream itself wants credentials; the proxy supplies its own',
    withLogs(logs, async () => {
      const direct = await fetch(`${fx.st.registry.url}/v2/`);
      await direct.arrayBuffer();
      assert.equal(direct.status, 401);
      assert.match(direct.headers.get('www-authenticate') ?? '', /^Basic /);
      const withCreds = await fetch(`${fx.st.registry.url}/v2/`, {
        headers: { authorization: basic(UPSTREAM_USER) },
      });
      await withCreds.arrayBuffer();
      assert.equal(withCreds.status, 200);
      // Through the proxy, with no credentials: Purser's own Bearer challenge, not the upstream's Basic one.
      const viaProxy = await fetch(`${fx.st.proxyUrl}/v2/team/app/tags/list`);
      await viaProxy.arrayBuffer();
      assert.equal(viaProxy.status, 401);
      assert.match(
        viaProxy.headers.get('www-authenticate') ?? '',
        /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token"/,
      );
    }),
  );

  test(
    'skopeo: alice pushes, pulls (digest intact), lists tags, mounts and deletes',
    withLogs(logs, async () => {
      const s = fx.sk;
      assertOk(await s.copy(fx.img.ref, docker('team/app:v1'), { dest: ALICE }), 'push v1');
      assertOk(await s.copy(fx.img.ref, docker('team/app:v2'), { dest: ALICE }), 'push v2');
      const out = outDir();
      assertOk(await s.copy(docker('team/app:v1'), `oci:${out}:v1`, { src: ALICE }), 'pull');
      assert.equal(readLayoutDigest(out, 'v1'), fx.img.manifestDigest);

      const lt = await s.listTags(docker('team/app'), ALICE);
      assertOk(lt, 'list-tags');
      assert.deepEqual((JSON.parse(lt.stdout) as { Tags: string[] }).Tags.sort(), ['v1', 'v2']);

      // Cross-repository mount through the proxy.
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
      const out2 = outDir();
      assertOk(await s.copy(docker('team/copy:v1'), `oci:${out2}:v1`, { src: ALICE }), 'pull the copy');
      assert.equal(readLayoutDigest(out2, 'v1'), fx.img.manifestDigest);

      assertOk(await s.delete(docker('team/app:v1'), ALICE), 'delete');
      assertFails(
        await s.inspect(docker('team/app:v1'), ALICE),
        /manifest unknown|not found/i,
        'inspect after delete',
      );
      assert.ok(
        (await settledLogRecords(fx.st.purser, 'proxied')).some(
          (r) => r.method === 'DELETE' && r.account === 'alice',
        ),
        'a proxied DELETE by alice',
      );
    }),
  );

  test(
    'an upload started through the proxy can be cancelled',
    withLogs(logs, async () => {
      const p = fx.st.proxyUrl;
      const res = await fetch(`${p}/v2/team/cancel/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: basic(ALICE) },
      });
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      const loc = res.headers.get('location') ?? '';
      assert.ok(loc.startsWith(`${p}/`), `Location ${loc}`);
      const del = await fetch(loc, { method: 'DELETE', headers: { authorization: basic(ALICE) } });
      await del.arrayBuffer();
      assert.equal(del.status, 204);
    }),
  );

  test(
    "bob's push (pull-only) is refused with denied; his pull works",
    withLogs(logs, async () => {
      const s = fx.sk;
      assertOk(await s.copy(fx.img2.ref, docker('team/base:v1'), { dest: ALICE }), 'alice pushes team/base');
      const out = outDir();
      assertOk(await s.copy(docker('team/base:v1'), `oci:${out}:v1`, { src: BOB }), 'bob pulls');
      assert.equal(readLayoutDigest(out, 'v1'), fx.img2.manifestDigest);
      assertFails(await s.copy(fx.img.ref, docker('team/bob:v1'), { dest: BOB }), /denied/i, 'bob pushes');
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

podmanThroughProxy('basic', TIMEOUT);
