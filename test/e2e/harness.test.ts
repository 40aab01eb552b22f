// Verifies the e2e harness itself against the real registry, without Purser:
// OCI layouts, skopeo copy/inspect/list-tags/delete, podman login/push/pull, htpasswd auth.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk, DENIED } from '../helpers/assert.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage, readLayoutDigest } from '../helpers/oci.js';
import { createPodman, type Podman } from '../helpers/podman.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const TIMEOUT = 120_000;

interface InspectOut {
  Digest: string;
  RepoTags: string[];
  Layers: string[];
}
interface TagsOut {
  Tags: string[];
}

describe('harness: registry without auth', { timeout: TIMEOUT }, () => {
  let reg: Registry | undefined;
  let sk: Skopeo;
  let img: OciImage;
  const dirs: string[] = [];
  const logs = () => [reg && { name: 'registry', logs: reg.logs }];

  before(async () => {
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir);
    reg = await startRegistry({ auth: { mode: 'none' } });
  });
  after(async () => {
    await reg?.stop();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  test(
    'OCI layout is well formed',
    withLogs(logs, async () => {
      assert.equal(readLayoutDigest(img.dir, 'v1'), img.manifestDigest);
      const other = await buildOciImage();
      dirs.push(other.dir);
      assert.notEqual(other.manifestDigest, img.manifestDigest, 'every image is unique');
      assert.notEqual(other.layerDigest, img.layerDigest);
    }),
  );

  test(
    'skopeo copy in, out, inspect, list-tags, delete',
    withLogs(logs, async () => {
      const ref = `docker://${reg!.host}/open/app`;
      assertOk(await sk.copy(img.ref, `${ref}:v1`), 'push');
      assertOk(await sk.copy(img.ref, `${ref}:v2`), 'push second tag');

      const out = makeTempDir('purser-oci-out-');
      dirs.push(out);
      assertOk(await sk.copy(`${ref}:v1`, `oci:${out}:back`), 'pull');
      assert.equal(readLayoutDigest(out, 'back'), img.manifestDigest);

      const ins = await sk.inspect(`${ref}:v1`);
      assertOk(ins, 'inspect');
      const info = JSON.parse(ins.stdout) as InspectOut;
      assert.equal(info.Digest, img.manifestDigest);
      assert.deepEqual(info.Layers, [img.layerDigest]);

      const lt = await sk.listTags(ref);
      assertOk(lt, 'list-tags');
      assert.deepEqual((JSON.parse(lt.stdout) as TagsOut).Tags.sort(), ['v1', 'v2']);

      // delete removes the manifest, so every tag pointing at it goes
      assertOk(await sk.delete(`${ref}:v1`), 'delete');
      assertFails(await sk.inspect(`${ref}:v1`), /manifest unknown|not found/i, 'inspect after delete');
      const lt2 = await sk.listTags(ref);
      const tags = lt2.code === 0 ? (JSON.parse(lt2.stdout) as TagsOut).Tags : [];
      assert.ok(!tags.includes('v1'), `v1 still listed: ${lt2.stdout}`);
    }),
  );
});

describe('harness: htpasswd registry', { timeout: TIMEOUT }, () => {
  let reg: Registry | undefined;
  let sk: Skopeo;
  let pm: Podman | undefined;
  let img: OciImage;
  const dirs: string[] = [];
  const alice = { username: 'alice', password: 'alice-pw' };
  const logs = () => [reg && { name: 'registry', logs: reg.logs }];

  before(async () => {
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir);
    reg = await startRegistry({ auth: { mode: 'htpasswd', users: { alice: alice.password } } });
    pm = createPodman([reg.host]);
  });
  after(async () => {
    await reg?.stop();
    await pm?.cleanup();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  test(
    'skopeo with credentials pushes and pulls; wrong or no password is refused',
    withLogs(logs, async () => {
      const ref = `docker://${reg!.host}/team/app:v1`;
      assertOk(await sk.copy(img.ref, ref, { dest: alice }), 'push');
      const out = makeTempDir('purser-oci-out-');
      dirs.push(out);
      assertOk(await sk.copy(ref, `oci:${out}:v1`, { src: alice }), 'pull');
      assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);

      assertFails(await sk.inspect(ref, { username: 'alice', password: 'nope' }), DENIED, 'wrong password');
      assertFails(await sk.inspect(ref, 'anonymous'), DENIED, 'anonymous');
      assertFails(await sk.copy(img.ref, `docker://${reg!.host}/team/app:v2`, { dest: 'anonymous' }), DENIED);
    }),
  );

  test(
    'skopeo login stores credentials in the isolated auth file',
    withLogs(logs, async () => {
      assertOk(await sk.login(reg!.host, alice.username, alice.password), 'login');
      assertOk(await sk.inspect(`docker://${reg!.host}/team/app:v1`), 'inspect with stored credentials');
      assertOk(await sk.logout(reg!.host), 'logout');
      assertFails(await sk.login(reg!.host, 'alice', 'nope'), DENIED, 'login with a wrong password');
    }),
  );

  test(
    'podman login, push, pull',
    withLogs(logs, async () => {
      const p = pm!;
      const loaded = await p.pullOci(img.dir, img.tag);
      assertOk(loaded, 'podman pull oci:');
      const id = loaded.stdout.trim().split('\n').pop()!;
      assert.equal(`sha256:${id}`, img.configDigest, 'image id is the config digest');

      assertFails(await p.login(reg!.host, 'alice', 'nope'), DENIED, 'podman login wrong password');
      assertOk(await p.login(reg!.host, alice.username, alice.password), 'podman login');

      const dest = `${reg!.host}/team/podman:v1`;
      const pushed = await p.push(id, dest);
      assertOk(pushed, 'podman push');
      assert.match(pushed.digest ?? '', /^sha256:[0-9a-f]{64}$/);

      const ins = await sk.inspect(`docker://${dest}`, alice);
      assertOk(ins, 'skopeo inspect of the podman push');
      assert.equal((JSON.parse(ins.stdout) as InspectOut).Digest, pushed.digest);

      assertOk(await p.rmi(id), 'podman rmi');
      const pulled = await p.pull(dest);
      assertOk(pulled, 'podman pull');
      assert.equal(pulled.stdout.trim().split('\n').pop(), id, 'the pulled image is the pushed one');
      const digest = await p.inspect(dest, '{{.Digest}}');
      assertOk(digest);
      assert.equal(digest.stdout.trim(), pushed.digest);

      assertOk(await p.logout(reg!.host), 'podman logout');
      assertFails(await p.pull(`${reg!.host}/team/podman:v1`), DENIED, 'pull after logout');
    }),
  );
});
