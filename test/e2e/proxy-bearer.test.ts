// Purser's proxy in front of distribution 2.8 that trusts ANOTHER token server (a second
// Purser with its own keys and users): upstreamAuth { bearer } follows the upstream's challenge.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk } from '../helpers/assert.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage, readLayoutDigest } from '../helpers/oci.js';
import {
  ALICE,
  BOB,
  basic,
  jsonLogs,
  type ProxyStack,
  startProxyStack,
  UPSTREAM_USER,
  waitForRegistryRequest,
} from '../helpers/proxy.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const TIMEOUT = 120_000;

describe('proxy, upstreamAuth bearer (the upstream has its own token server)', { timeout: TIMEOUT }, () => {
  let st: ProxyStack | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage;
  const dirs: string[] = [];
  const logs = () => st?.logSources() ?? [];
  const docker = (repo: string): string => `docker://${st!.host}/${repo}`;

  before(async () => {
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir);
    st = await startProxyStack({ upstream: 'bearer' });
  });
  after(async () => {
    await st?.stop();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  test(
    'the front users are unknown upstream: straight to the registry, alice gets nothing',
    withLogs(logs, async () => {
      const up = st!.upstreamPurser!;
      const res = await fetch(`${up.realm}?service=upstream.test&scope=repository:team/app:pull`, {
        headers: { authorization: basic(ALICE) },
      });
      await res.arrayBuffer();
      assert.equal(res.status, 401, 'alice is not a user of the upstream token server');
    }),
  );

  test(
    'skopeo through the front proxy: push, pull (digest intact), list-tags, delete',
    withLogs(logs, async () => {
      const s = sk!;
      assertOk(await s.copy(img.ref, docker('team/app:v1'), { dest: ALICE }), 'push');
      const out = makeTempDir('purser-oci-out-');
      dirs.push(out);
      assertOk(await s.copy(docker('team/app:v1'), `oci:${out}:v1`, { src: BOB }), 'bob pulls');
      assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);
      const lt = await s.listTags(docker('team/app'), ALICE);
      assertOk(lt, 'list-tags');
      assert.deepEqual((JSON.parse(lt.stdout) as { Tags: string[] }).Tags, ['v1']);
      assertOk(await s.delete(docker('team/app:v1'), ALICE), 'delete');
      assertFails(
        await s.inspect(docker('team/app:v1'), ALICE),
        /manifest unknown|not found/i,
        'inspect after delete',
      );

      // The upstream token server issued tokens to the proxy's robot account, per scope.
      const issued = jsonLogs(st!.upstreamPurser!.logs()).filter((r) => r.msg === 'token issued');
      assert.ok(issued.length > 0, 'the upstream token server issued tokens');
      assert.ok(
        issued.every((r) => r.account === UPSTREAM_USER.username),
        JSON.stringify(issued),
      );
      assert.ok(
        issued.some((r) => JSON.stringify(r.scope ?? '').includes('repository:team/app:pull,push')),
        JSON.stringify(issued.map((r) => r.scope)),
      );
    }),
  );

  test(
    'cross-repository mount through the front proxy',
    withLogs(logs, async () => {
      const s = sk!;
      assertOk(await s.copy(img.ref, docker('team/src:v1'), { dest: ALICE }), 'push team/src');
      const reg = st!.registry;
      const from = reg.logs().length;
      assertOk(
        await s.copy(docker('team/src:v1'), docker('team/dst:v1'), { src: ALICE, dest: ALICE }),
        'copy',
      );
      const reqs = await waitForRegistryRequest(reg, from, (r) =>
        r.startsWith('PUT /v2/team/dst/manifests/v1'),
      );
      assert.ok(
        reqs.some(
          (r) =>
            r.startsWith('POST /v2/team/dst/blobs/uploads/?') && r.includes('mount=') && r.endsWith(' 201'),
        ),
        `no successful mount POST reached the registry:\n${reqs.join('\n')}`,
      );
    }),
  );

  test(
    'an upload started through the front proxy can be cancelled',
    withLogs(logs, async () => {
      const p = st!.proxyUrl;
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
    "bob's push is refused by the front proxy with denied",
    withLogs(logs, async () => {
      assertFails(await sk!.copy(img.ref, docker('team/bob:v1'), { dest: BOB }), /denied/i, 'bob pushes');
    }),
  );
});
