// The podman suite every upstream mode of the proxy runs: login, push, pull back the same
// image, and a pull-only user's push refused with `denied`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk, BAD_CREDENTIALS } from './assert.js';
import { withLogs } from './logs.js';
import { buildOciImage, type OciImage } from './oci.js';
import { createPodman, type Podman } from './podman.js';
import { ALICE, BOB, type ProxyStack, startProxyStack } from './proxy.js';
import { removeDir } from './tmp.js';

export function podmanThroughProxy(upstream: 'none' | 'basic' | 'token', timeout: number): void {
  describe(`proxy, upstreamAuth ${upstream}: podman`, { timeout }, () => {
    let st: ProxyStack | undefined;
    let pm: Podman | undefined;
    let img: OciImage | undefined;
    let imageId = '';
    const logs = () => st?.logSources() ?? [];

    before(async () => {
      img = await buildOciImage({ tag: 'v1' });
      st = await startProxyStack({ upstream });
      pm = createPodman([st.host]);
      const loaded = await pm.pullOci(img.dir, img.tag);
      assertOk(loaded, 'podman pull oci:');
      imageId = loaded.stdout.trim().split('\n').pop() ?? '';
    });
    after(async () => {
      await st?.stop();
      await pm?.cleanup();
      if (img) removeDir(img.dir);
    });

    test(
      'podman login, push, pull through the proxy; bob is denied a push',
      withLogs(logs, async () => {
        const p = pm!;
        const host = st!.host;
        assertOk(await p.login(host, ALICE.username, ALICE.password), 'podman login alice');
        const dest = `${host}/team/podman:v1`;
        const pushed = await p.push(imageId, dest);
        assertOk(pushed, 'podman push');
        assert.match(pushed.digest ?? '', /^sha256:[0-9a-f]{64}$/);
        assertOk(await p.rmi(imageId), 'podman rmi');
        const pulled = await p.pull(dest);
        assertOk(pulled, 'podman pull');
        assert.equal(pulled.stdout.trim().split('\n').pop(), imageId, 'pulled image is the pushed one');
        const digest = await p.inspect(dest, '{{.Digest}}');
        assertOk(digest, 'podman image inspect');
        assert.equal(digest.stdout.trim(), pushed.digest);
        assertFails(
          await p.login(host, ALICE.username, 'wrong'),
          BAD_CREDENTIALS,
          'podman login, wrong password',
        );
        assertOk(await p.login(host, BOB.username, BOB.password), 'podman login bob');
        assertFails(await p.push(imageId, `${host}/team/podman-bob:v1`), /denied/i, 'bob podman push');
      }),
    );
  });
}
