// Issue 12 part 7: tag policy (proxy.tags) and the filtered catalog, through Purser's proxy in
// front of the real registry (distribution 2.8), with skopeo and a GitHub-shaped CI JWT.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadSigningKey } from '../../src/token/keys.js';
import { TokenSigner } from '../../src/token/signer.js';
import { assertFails, assertOk } from '../helpers/assert.js';
import { TestIssuer } from '../helpers/issuer.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, OCI_MANIFEST, type OciImage } from '../helpers/oci.js';
import { ALICE, BOB, basic, ISSUER, type ProxyStack, SERVICE, startProxyStack } from '../helpers/proxy.js';
import { putManifest } from '../helpers/registry-api.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { removeDir } from '../helpers/tmp.js';

const TIMEOUT = 180_000;

const TAGS = [
  {
    tags: 'latest',
    when: 'claims.ref == "refs/heads/main"',
    actions: ['push'],
    comment: 'latest comes from main',
  },
  { tags: 'latest', actions: [], comment: 'nobody else moves latest' },
  { tags: 'v*', immutable: true, comment: 'releases are write-once' },
];

const ACL = [
  { match: { account: 'alice' }, actions: ['*'] },
  { match: { account: 'bob', type: 'registry', name: 'catalog' }, actions: ['*'] },
  { match: { account: 'bob', type: 'repository', name: 'team/*' }, actions: ['pull'] },
  { match: { provider: 'github', type: 'repository', name: '${account}' }, actions: ['pull', 'push'] },
];

describe('proxy tag policy and filtered catalog', { timeout: TIMEOUT }, () => {
  let issuer: TestIssuer | undefined;
  let st: ProxyStack | undefined;
  let sk: Skopeo | undefined;
  let img1: OciImage;
  let img2: OciImage;
  const dirs: string[] = [];
  const logs = () => [...(st?.logSources() ?? [])];
  const docker = (ref: string): string => `docker://${st!.host}/${ref}`;
  const ci = async (ref: string) => ({
    username: 'github',
    password: await issuer!.github({ repository: 'acme/app', ref }),
  });
  /** The digest the registry itself (not the proxy) has for repo:tag. */
  const upstreamDigest = async (repo: string, tag: string): Promise<string | null> => {
    const res = await fetch(`${st!.proxyUrl}/v2/${repo}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { authorization: basic(ALICE), accept: OCI_MANIFEST },
    });
    return res.status === 200 ? res.headers.get('docker-content-digest') : null;
  };
  const raw = async (method: string, path: string, auth: string, body?: string) => {
    const res = await fetch(`${st!.proxyUrl}${path}`, {
      method,
      headers: { authorization: auth, ...(body ? { 'content-type': OCI_MANIFEST } : {}) },
      ...(body ? { body } : {}),
    });
    return { status: res.status, text: await res.text(), link: res.headers.get('link') };
  };

  before(async () => {
    sk = createSkopeo();
    img1 = await buildOciImage({ tag: 'v1' });
    img2 = await buildOciImage({ tag: 'v1' });
    dirs.push(img1.dir, img2.dir);
    issuer = await TestIssuer.start({ alg: 'RS256' });
    st = await startProxyStack({
      upstream: 'token',
      acl: ACL,
      proxy: { tags: TAGS },
      extra: {
        providers: [
          {
            name: 'github',
            preset: 'github-actions',
            issuer: issuer.url,
            audience: 'https://github.com/acme',
          },
        ],
      },
    });
  });
  after(async () => {
    await st?.stop();
    await issuer?.close();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  test(
    'latest is pushed from a main-branch CI identity and refused from another branch',
    withLogs(logs, async () => {
      assertOk(
        await sk!.copy(img1.ref, docker('acme/app:latest'), { dest: await ci('refs/heads/main') }),
        'main',
      );
      assert.equal(await upstreamDigest('acme/app', 'latest'), img1.manifestDigest);
      assertFails(
        await sk!.copy(img2.ref, docker('acme/app:latest'), { dest: await ci('refs/heads/feature') }),
        /push of tag latest refused by proxy\.tags\[1\] \(nobody else moves latest\)/,
        'feature branch',
      );
      // A static user with every ACL right is refused too: the second entry holds for everyone.
      assertFails(
        await sk!.copy(img2.ref, docker('acme/app:latest'), { dest: ALICE }),
        /refused by proxy\.tags\[1\]/,
        'alice',
      );
      assert.equal(await upstreamDigest('acme/app', 'latest'), img1.manifestDigest, 'latest did not move');

      // The refusal is in the registry's format, and the tag is the decoded one (lat%65st).
      const put = await raw(
        'PUT',
        '/v2/acme/app/manifests/lat%65st',
        basic(await ci('refs/heads/feature')),
        '{"schemaVersion":2}',
      );
      assert.equal(put.status, 403);
      assert.deepEqual(JSON.parse(put.text), {
        errors: [
          {
            code: 'DENIED',
            message: 'push of tag latest refused by proxy.tags[1] (nobody else moves latest)',
          },
        ],
      });
    }),
  );

  test(
    'a v* tag is write-once: the first push works, the same manifest again is accepted, another is refused',
    withLogs(logs, async () => {
      const main = await ci('refs/heads/main');
      assertOk(await sk!.copy(img1.ref, docker('acme/app:v1.0.0'), { dest: main }), 'first push');
      assertOk(await sk!.copy(img1.ref, docker('acme/app:v1.0.0'), { dest: main }), 'same manifest again');
      assertFails(
        await sk!.copy(img2.ref, docker('acme/app:v1.0.0'), { dest: main }),
        /tag v1\.0\.0 is immutable \(proxy\.tags\[2\] \(releases are write-once\)\)/,
        'overwrite',
      );
      assert.equal(await upstreamDigest('acme/app', 'v1.0.0'), img1.manifestDigest, 'v1.0.0 did not move');
      // Not even alice (every ACL right) moves or deletes it.
      assertFails(await sk!.copy(img2.ref, docker('acme/app:v1.0.0'), { dest: ALICE }), /is immutable/);
      const del = await raw('DELETE', '/v2/acme/app/manifests/v1.0.0', basic(ALICE));
      assert.equal(del.status, 403);
      assert.match(del.text, /"code":"DENIED".*tag v1\.0\.0 is immutable/);
      // Another v* tag still gets its first push.
      assertOk(await sk!.copy(img2.ref, docker('acme/app:v1.0.1'), { dest: main }), 'v1.0.1');
    }),
  );

  test(
    'a tag no entry matches follows the ACL',
    withLogs(logs, async () => {
      assertOk(
        await sk!.copy(img2.ref, docker('acme/app:dev'), { dest: await ci('refs/heads/feature') }),
        'feature branch pushes dev',
      );
      assertFails(
        await sk!.copy(img2.ref, docker('acme/other:dev'), { dest: await ci('refs/heads/main') }),
        /denied/i,
        'CI outside its repository',
      );
      assertFails(
        await sk!.copy(img2.ref, docker('team/app:dev'), { dest: BOB }),
        /denied/i,
        'bob pulls only',
      );
      // distribution 2.8 deletes manifests by digest only: a DELETE by tag reaches it and is 400.
      const del = await raw('DELETE', '/v2/acme/app/manifests/dev', basic(ALICE));
      assert.equal(del.status, 400);
      assert.match(del.text, /DIGEST_INVALID/);
      assert.equal(await upstreamDigest('acme/app', 'dev'), img2.manifestDigest, 'dev is still there');
    }),
  );

  test(
    'references distribution would read as odd tags are refused before the policy',
    withLogs(logs, async () => {
      const auth = basic(ALICE);
      // Each is a 500 from distribution 2.8 (go-digest refuses it, the tag store then fails on it).
      for (const ref of ['sha256:abc', 'foo:bar', `sha256:${'A'.repeat(64)}`, `sha512:${'a'.repeat(64)}`]) {
        for (const method of ['PUT', 'DELETE']) {
          const r = await raw(
            method,
            `/v2/acme/app/manifests/${ref}`,
            auth,
            method === 'PUT' ? '{}' : undefined,
          );
          assert.equal(r.status, 400, `${method} ${ref}`);
          assert.match(r.text, /DIGEST_INVALID/, `${method} ${ref}`);
        }
      }
    }),
  );

  test(
    'the catalog lists exactly what the caller may pull, n=2 across pages, last honoured, Link as distribution',
    withLogs(logs, async () => {
      const base = st!.proxyUrl;
      const headers = { authorization: basic(ALICE) };
      for (const repo of ['alpha', 'other/x', 'team/one', 'team/three', 'team/two', 'team/zz', 'zeta'])
        await putManifest(base, repo, 'dev', headers);
      const bob = basic(BOB);
      const pages: string[][] = [];
      const links: (string | null)[] = [];
      let next: string | null = '/v2/_catalog?n=2';
      while (next && pages.length < 10) {
        const r = await raw('GET', next, bob);
        assert.equal(r.status, 200, next);
        pages.push((JSON.parse(r.text) as { repositories: string[] }).repositories);
        links.push(r.link);
        next = r.link ? /^<([^>]+)>; rel="next"$/.exec(r.link)![1]! : null;
      }
      assert.deepEqual(pages, [['team/one', 'team/three'], ['team/two', 'team/zz'], []]);
      assert.deepEqual(links, [
        '</v2/_catalog?last=team%2Fthree&n=2>; rel="next"',
        '</v2/_catalog?last=team%2Fzz&n=2>; rel="next"',
        null,
      ]);
      // Without n: every permitted repository (up to 1000), no Link; alice sees them all.
      const all = await raw('GET', '/v2/_catalog', bob);
      assert.deepEqual(JSON.parse(all.text).repositories, ['team/one', 'team/three', 'team/two', 'team/zz']);
      assert.equal(all.link, null);
      const everything = JSON.parse((await raw('GET', '/v2/_catalog', basic(ALICE))).text).repositories;
      for (const r of ['alpha', 'other/x', 'team/one', 'zeta']) assert.ok(everything.includes(r), r);
      // last is exclusive and need not be a name the caller may see.
      const after = await raw('GET', '/v2/_catalog?n=1&last=team%2Fthree', bob);
      assert.deepEqual(JSON.parse(after.text).repositories, ['team/two']);
      assert.equal(after.link, '</v2/_catalog?last=team%2Ftwo&n=1>; rel="next"');
      const fromHidden = await raw('GET', '/v2/_catalog?last=other/x', bob);
      assert.deepEqual(JSON.parse(fromHidden.text).repositories, [
        'team/one',
        'team/three',
        'team/two',
        'team/zz',
      ]);
    }),
  );

  test(
    'hostile catalog queries get precise 400s or the cap',
    withLogs(logs, async () => {
      const bob = basic(BOB);
      const huge = await raw('GET', '/v2/_catalog?n=100000', bob);
      assert.equal(huge.status, 400);
      assert.equal(JSON.parse(huge.text).errors[0].code, 'PAGINATION_NUMBER_INVALID');
      // What strconv.Atoi cannot read (or a negative n) means the maximum, as in distribution.
      for (const n of ['abc', '-1', '99999999999999999999999', '']) {
        const r = await raw('GET', `/v2/_catalog?n=${n}`, bob);
        assert.equal(r.status, 200, n);
        assert.equal(JSON.parse(r.text).repositories.length, 4, n);
      }
      const zero = await raw('GET', '/v2/_catalog?n=0', bob);
      assert.deepEqual(JSON.parse(zero.text), { repositories: [] });
      assert.equal(zero.link, null);
      const forged = await raw('GET', '/v2/_catalog?last=~AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', bob);
      assert.equal(forged.status, 400);
      assert.match(forged.text, /not a cursor of this server/);
      const long = await raw('GET', `/v2/_catalog?last=${'a'.repeat(5000)}`, bob);
      assert.equal(long.status, 400);
      // Without registry:catalog the catalog stays refused, filtered or not.
      const anon = await fetch(`${st!.proxyUrl}/v2/_catalog`);
      await anon.arrayBuffer();
      assert.equal(anon.status, 401);
    }),
  );

  test(
    'a Bearer token from the token endpoint carries the identity the policy and the catalog decide on',
    withLogs(logs, async () => {
      const feature = await ci('refs/heads/feature');
      const tokenRes = await fetch(
        `${st!.proxyUrl}/token?service=${SERVICE}&scope=repository:acme/app:pull,push`,
        { headers: { authorization: basic(feature) } },
      );
      const { token } = (await tokenRes.json()) as { token: string };
      const r = await raw('PUT', '/v2/acme/app/manifests/latest', `Bearer ${token}`, '{"schemaVersion":2}');
      assert.equal(r.status, 403);
      assert.match(r.text, /refused by proxy\.tags\[1\]/);

      // bob's catalog token: filtered by his ACL, as with Basic.
      const catRes = await fetch(`${st!.proxyUrl}/token?service=${SERVICE}&scope=registry:catalog:*`, {
        headers: { authorization: basic(BOB) },
      });
      const cat = (await catRes.json()) as { token: string };
      const listed = await raw('GET', '/v2/_catalog', `Bearer ${cat.token}`);
      assert.equal(listed.status, 200);
      assert.deepEqual(JSON.parse(listed.text).repositories, [
        'team/one',
        'team/three',
        'team/two',
        'team/zz',
      ]);

      // A token of ours that does not carry the identity (an older Purser's) is sent back for a new one.
      const signer = new TokenSigner(await loadSigningKey(st!.keys.key, undefined), {
        issuer: ISSUER,
        keyId: 'libtrust',
        expiresIn: 300,
      });
      const bare = signer.issue('acme/app', SERVICE, [
        { type: 'repository', name: 'acme/app', actions: ['pull', 'push'] },
      ]);
      const res = await fetch(`${st!.proxyUrl}/v2/acme/app/manifests/latest`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${bare.token}`, 'content-type': OCI_MANIFEST },
        body: '{}',
      });
      assert.equal(res.status, 401);
      assert.match(await res.text(), /carries no identity for the proxy policy/);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    }),
  );
});
