// skopeo against a real registry (distribution 2.8) that delegates auth to Purser.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk, BAD_CREDENTIALS, NO_ACCESS } from '../helpers/assert.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage, readLayoutDigest } from '../helpers/oci.js';
import type { KeyAlg } from '../helpers/purser.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { ALICE, BOB, type KeyIdMode, SERVICE, type Stack, startStack } from '../helpers/stack.js';
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

describe('skopeo with Purser (ES256, default keyId)', { timeout: TIMEOUT }, () => {
  let stack: Stack | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage;
  const dirs: string[] = [];
  const logs = () => stack?.logSources() ?? [];
  const docker = (repo: string): string => `docker://${stack!.host}/${repo}`;
  const outDir = (): string => {
    const d = makeTempDir('purser-oci-out-');
    dirs.push(d);
    return d;
  };

  before(async () => {
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir);
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  test(
    'alice pushes, pulls back, lists tags, inspects and deletes',
    withLogs(logs, async () => {
      const s = sk!;
      assertOk(await s.copy(img.ref, docker('alice/app:v1'), { dest: ALICE }), 'push');
      assertOk(await s.copy(img.ref, docker('alice/app:v2'), { dest: ALICE }), 'push second tag');

      const out = outDir();
      assertOk(await s.copy(docker('alice/app:v1'), `oci:${out}:v1`, { src: ALICE }), 'pull');
      assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest, 'pulled manifest is the pushed one');

      const lt = await s.listTags(docker('alice/app'), ALICE);
      assertOk(lt, 'list-tags');
      assert.deepEqual((JSON.parse(lt.stdout) as TagsOut).Tags.sort(), ['v1', 'v2']);

      const ins = await s.inspect(docker('alice/app:v1'), ALICE);
      assertOk(ins, 'inspect');
      const info = JSON.parse(ins.stdout) as InspectOut;
      assert.equal(info.Digest, img.manifestDigest);
      assert.deepEqual(info.Layers, [img.layerDigest]);

      assertOk(await s.delete(docker('alice/app:v1'), ALICE), 'delete');
      assertFails(
        await s.inspect(docker('alice/app:v1'), ALICE),
        /manifest unknown|not found/i,
        'inspect after delete',
      );
      const lt2 = await s.listTags(docker('alice/app'), ALICE);
      const tags = lt2.code === 0 ? (JSON.parse(lt2.stdout) as TagsOut).Tags : [];
      assert.ok(!tags.includes('v1'), `v1 still listed after delete: ${lt2.stdout}`);
    }),
  );

  test(
    'skopeo login stores the credentials that later commands use',
    withLogs(logs, async () => {
      const s = sk!;
      assertOk(await s.login(stack!.host, ALICE.username, ALICE.password), 'skopeo login');
      assertOk(await s.copy(img.ref, docker('alice/login:v1')), 'push with stored credentials');
      assertOk(await s.inspect(docker('alice/login:v1')), 'inspect with stored credentials');
      assertOk(await s.logout(stack!.host), 'skopeo logout');
      assertFails(await s.inspect(docker('alice/login:v1')), NO_ACCESS, 'inspect after logout');
    }),
  );

  test(
    'bob (pull-only on team/*) pulls but may not push or read elsewhere',
    withLogs(logs, async () => {
      const s = sk!;
      assertOk(await s.copy(img.ref, docker('team/app:v1'), { dest: ALICE }), 'alice seeds team/app');
      assertOk(await s.copy(img.ref, docker('private/app:v1'), { dest: ALICE }), 'alice seeds private/app');

      const out = outDir();
      assertOk(await s.copy(docker('team/app:v1'), `oci:${out}:v1`, { src: BOB }), 'bob pulls team/app');
      assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);
      assertOk(await s.inspect(docker('team/app:v1'), BOB), 'bob inspects team/app');

      const push = await s.copy(img.ref, docker('team/app:bob'), { dest: BOB });
      assertFails(push, NO_ACCESS, 'bob push to team/app');
      assertFails(
        await s.inspect(docker('team/app:bob'), ALICE),
        /manifest unknown|not found/i,
        'nothing was pushed',
      );

      assertFails(await s.inspect(docker('private/app:v1'), BOB), NO_ACCESS, 'bob reads private/app');
      assertFails(
        await s.delete(docker('team/app:v1'), BOB),
        /401|unauthorized|denied/i,
        'bob deletes team/app',
      );
      assertOk(await s.inspect(docker('team/app:v1'), ALICE), 'team/app:v1 survived bob');
    }),
  );

  test(
    'a wrong password is refused',
    withLogs(logs, async () => {
      const s = sk!;
      assertOk(await s.copy(img.ref, docker('team/wrong:v1'), { dest: ALICE }), 'alice seeds team/wrong');
      const bad = { username: 'alice', password: 'not-alice-pw' };
      assertFails(
        await s.inspect(docker('team/wrong:v1'), bad),
        BAD_CREDENTIALS,
        'inspect with a wrong password',
      );
      assertFails(
        await s.copy(img.ref, docker('team/wrong:v2'), { dest: bad }),
        BAD_CREDENTIALS,
        'push with a wrong password',
      );
      assertFails(
        await s.inspect(docker('team/wrong:v1'), { username: 'mallory', password: 'x' }),
        BAD_CREDENTIALS,
        'unknown user',
      );
      assertFails(
        await s.login(stack!.host, 'alice', 'not-alice-pw'),
        BAD_CREDENTIALS,
        'skopeo login with a wrong password',
      );

      // The token endpoint itself: 401 with a Basic challenge and the registry error format.
      const res = await fetch(`${stack!.purser.realm}?service=${SERVICE}&scope=repository:team/wrong:pull`, {
        headers: { authorization: `Basic ${Buffer.from('alice:not-alice-pw').toString('base64')}` },
      });
      const body = await res.text();
      assert.equal(res.status, 401, body);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm=/i);
      const parsed = JSON.parse(body) as { errors?: { code?: string }[] };
      assert.equal(parsed.errors?.[0]?.code, 'UNAUTHORIZED');
      assert.ok(!body.includes('not-alice-pw'), 'the password is not echoed');
    }),
  );

  test(
    'anonymous: pull of public/* works, push and other repositories do not',
    withLogs(logs, async () => {
      const s = sk!;
      assertOk(await s.copy(img.ref, docker('public/app:v1'), { dest: ALICE }), 'alice seeds public/app');
      assertOk(await s.copy(img.ref, docker('team/anon:v1'), { dest: ALICE }), 'alice seeds team/anon');

      const out = outDir();
      assertOk(
        await s.copy(docker('public/app:v1'), `oci:${out}:v1`, { src: 'anonymous' }),
        'anonymous pull',
      );
      assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);
      assertOk(await s.inspect(docker('public/app:v1'), 'anonymous'), 'anonymous inspect');

      assertFails(
        await s.copy(img.ref, docker('public/app:anon'), { dest: 'anonymous' }),
        NO_ACCESS,
        'anonymous push to public/app',
      );
      assertFails(
        await s.inspect(docker('team/anon:v1'), 'anonymous'),
        NO_ACCESS,
        'anonymous pull of team/anon',
      );
    }),
  );
});

/** The JOSE header of a token Purser issues to alice. */
async function tokenHeader(stack: Stack): Promise<{ alg?: string; kid?: string; x5c?: string[] }> {
  const res = await fetch(`${stack.purser.realm}?service=${SERVICE}&scope=repository:matrix/x:pull`, {
    headers: {
      authorization: `Basic ${Buffer.from(`${ALICE.username}:${ALICE.password}`).toString('base64')}`,
    },
  });
  const body = (await res.json()) as { token?: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  const [h] = (body.token ?? '').split('.');
  return JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')) as {
    alg?: string;
    kid?: string;
    x5c?: string[];
  };
}

// Every combination of signing algorithm and key reference that distribution 2.x accepts.
const MATRIX: { alg: KeyAlg; keyId: KeyIdMode }[] = [
  { alg: 'ES256', keyId: 'libtrust' },
  { alg: 'ES256', keyId: 'x5c' },
  { alg: 'RS256', keyId: 'libtrust' },
  { alg: 'RS256', keyId: 'x5c' },
];

describe('skopeo with Purser: signing algorithms and key ids', { timeout: TIMEOUT }, () => {
  let sk: Skopeo | undefined;
  let img: OciImage;
  const dirs: string[] = [];
  const stacks: Stack[] = [];

  before(async () => {
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir);
  });
  after(async () => {
    await Promise.allSettled(stacks.map((s) => s.stop()));
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  // Control: distribution 2.x does not know RFC 7638 thumbprints as kid, so this must fail.
  // It shows the registry really verifies the key reference the matrix above relies on.
  let thumbStack: Stack | undefined;
  test(
    'control: distribution 2.x refuses tokens whose kid is an RFC 7638 thumbprint',
    withLogs(
      () => thumbStack?.logSources() ?? [],
      async () => {
        thumbStack = await startStack({ alg: 'ES256', keyId: 'thumbprint' });
        stacks.push(thumbStack);
        const r = await sk!.copy(img.ref, `docker://${thumbStack.host}/matrix/thumbprint:v1`, {
          dest: ALICE,
        });
        assertFails(r, NO_ACCESS, 'push with a thumbprint kid');
        assert.match(thumbStack.registry.logs(), /token signed by untrusted key with ID/);
        await thumbStack.stop();
      },
    ),
  );

  for (const { alg, keyId } of MATRIX) {
    let stack: Stack | undefined;
    test(
      `${alg} with keyId ${keyId}: the registry accepts the tokens`,
      withLogs(
        () => stack?.logSources() ?? [],
        async () => {
          stack = await startStack({ alg, keyId });
          stacks.push(stack);
          const ref = `docker://${stack.host}/matrix/${alg.toLowerCase()}-${keyId}:v1`;
          assertOk(await sk!.copy(img.ref, ref, { dest: ALICE }), 'push');
          const out = makeTempDir('purser-oci-out-');
          dirs.push(out);
          assertOk(await sk!.copy(ref, `oci:${out}:v1`, { src: ALICE }), 'pull');
          assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);

          // The tokens really are of the kind this case is about.
          const header = await tokenHeader(stack);
          assert.equal(header.alg, alg);
          if (keyId === 'x5c') {
            assert.ok(Array.isArray(header.x5c) && header.x5c.length > 0, JSON.stringify(header));
          } else {
            assert.match(String(header.kid), /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/, JSON.stringify(header));
          }
          await stack.stop();
        },
      ),
    );
  }
});
