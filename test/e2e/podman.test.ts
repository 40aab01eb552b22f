// podman against a real registry (distribution 2.8) that delegates auth to Purser.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk, BAD_CREDENTIALS, NO_ACCESS } from '../helpers/assert.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage } from '../helpers/oci.js';
import { createPodman, type Podman } from '../helpers/podman.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { ALICE, BOB, type Stack, startStack } from '../helpers/stack.js';
import { removeDir } from '../helpers/tmp.js';

const TIMEOUT = 120_000;

describe('podman with Purser', { timeout: TIMEOUT }, () => {
  let stack: Stack | undefined;
  let pm: Podman | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage;
  let imageId = '';
  const logs = () => stack?.logSources() ?? [];

  before(async () => {
    img = await buildOciImage({ tag: 'v1' });
    stack = await startStack();
    pm = createPodman([stack.host]);
    sk = createSkopeo();
    const loaded = await pm.pullOci(img.dir, img.tag);
    assertOk(loaded, 'podman pull oci:');
    imageId = loaded.stdout.trim().split('\n').pop() ?? '';
  });
  after(async () => {
    await stack?.stop();
    await pm?.cleanup();
    sk?.cleanup();
    if (img) removeDir(img.dir);
  });

  test(
    'alice: podman login, push, pull, logout',
    withLogs(logs, async () => {
      const p = pm!;
      const host = stack!.host;
      assertOk(await p.login(host, ALICE.username, ALICE.password), 'podman login');

      const dest = `${host}/alice/podman:v1`;
      const pushed = await p.push(imageId, dest);
      assertOk(pushed, 'podman push');
      assert.match(pushed.digest ?? '', /^sha256:[0-9a-f]{64}$/);

      const ins = await sk!.inspect(`docker://${dest}`, ALICE);
      assertOk(ins, 'skopeo inspect of what podman pushed');
      assert.equal((JSON.parse(ins.stdout) as { Digest: string }).Digest, pushed.digest);

      assertOk(await p.rmi(imageId), 'podman rmi');
      const pulled = await p.pull(dest);
      assertOk(pulled, 'podman pull');
      assert.equal(pulled.stdout.trim().split('\n').pop(), imageId, 'pulled image is the pushed one');
      assert.equal(`sha256:${imageId}`, img.configDigest);
      const digest = await p.inspect(dest, '{{.Digest}}');
      assertOk(digest, 'podman image inspect');
      assert.equal(digest.stdout.trim(), pushed.digest);

      assertOk(await p.logout(host), 'podman logout');
      assertFails(await p.pull(dest), NO_ACCESS, 'pull after logout');
    }),
  );

  test(
    'podman login with a wrong password fails',
    withLogs(logs, async () => {
      const p = pm!;
      const host = stack!.host;
      assertFails(
        await p.login(host, 'alice', 'not-alice-pw'),
        BAD_CREDENTIALS,
        'login with a wrong password',
      );
      assertFails(await p.login(host, 'mallory', 'whatever'), BAD_CREDENTIALS, 'login as an unknown user');
      const auth = await p.raw(['login', '--authfile', p.authFile, '--get-login', host]);
      assert.notEqual(auth.code, 0, `no credentials were stored: ${auth.stdout}`);
    }),
  );

  test(
    'bob: podman login works, push is refused',
    withLogs(logs, async () => {
      const p = pm!;
      const host = stack!.host;
      if ((await p.inspect(imageId, '{{.Id}}')).code !== 0)
        assertOk(await p.pullOci(img.dir, img.tag), 'reload');
      assertOk(await p.login(host, BOB.username, BOB.password), 'bob login');
      const push = await p.push(imageId, `${host}/team/bob:v1`);
      assertFails(push, NO_ACCESS, 'bob push');
      assertOk(await p.logout(host), 'logout');
    }),
  );
});
