// A CI workload identity through Purser's proxy: a GitHub-shaped JWT from a local issuer used
// as the password (username = the provider's name) pushes to its own repository only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk } from '../helpers/assert.js';
import { TestIssuer } from '../helpers/issuer.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, OCI_MANIFEST, type OciImage, readLayoutDigest } from '../helpers/oci.js';
import { basic, PROXY_ACL, type ProxyStack, settledLogRecords, startProxyStack } from '../helpers/proxy.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const TIMEOUT = 120_000;

describe('proxy with a GitHub Actions provider', { timeout: TIMEOUT }, () => {
  let issuer: TestIssuer | undefined;
  let st: ProxyStack | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage;
  const dirs: string[] = [];
  const logs = () => [...(st?.logSources() ?? [])];
  const docker = (repo: string): string => `docker://${st!.host}/${repo}`;

  before(async () => {
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir);
    issuer = await TestIssuer.start({ alg: 'RS256' });
    st = await startProxyStack({
      upstream: 'token',
      acl: [
        ...PROXY_ACL,
        {
          match: { provider: 'github', type: 'repository', name: '${account}' },
          actions: ['pull', 'push'],
          comment: 'a workflow may push to the repository named after its GitHub repository',
        },
      ],
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
    'the JWT as the password pushes to acme/app (its own repository) and pulls it back; acme/other is denied',
    withLogs(logs, async () => {
      const s = sk!;
      const jwt = await issuer!.github({ repository: 'acme/app' });
      const ci = { username: 'github', password: jwt };
      assertOk(await s.copy(img.ref, docker('acme/app:v1'), { dest: ci }), 'CI push to acme/app');
      const out = makeTempDir('purser-oci-out-');
      dirs.push(out);
      assertOk(await s.copy(docker('acme/app:v1'), `oci:${out}:v1`, { src: ci }), 'CI pull');
      assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);
      assertFails(
        await s.copy(img.ref, docker('acme/other:v1'), { dest: ci }),
        /denied/i,
        'CI push to acme/other',
      );

      // Straight to the proxy with Basic github:<jwt>.
      const res = await fetch(`${st!.proxyUrl}/v2/acme/app/manifests/v1`, {
        headers: { authorization: basic(ci), accept: OCI_MANIFEST },
      });
      await res.arrayBuffer();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-content-digest'), img.manifestDigest);

      const proxied = await settledLogRecords(st!.purser, 'proxied');
      assert.ok(
        proxied.some(
          (r) => r.method === 'PUT' && r.path === '/v2/acme/app/manifests/v1' && r.account === 'acme/app',
        ),
        'the manifest PUT was proxied for account acme/app',
      );
    }),
  );

  test(
    'an expired or wrong-audience JWT is refused',
    withLogs(logs, async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = await issuer!.github({ repository: 'acme/app', iat: now - 900, exp: now - 600 });
      const wrongAud = await issuer!.github({ repository: 'acme/app', aud: 'https://github.com/evil' });
      for (const [what, jwt] of [
        ['expired', expired],
        ['wrong audience', wrongAud],
      ] as const) {
        const res = await fetch(`${st!.proxyUrl}/v2/acme/app/manifests/v1`, {
          headers: { authorization: basic({ username: 'github', password: jwt }), accept: OCI_MANIFEST },
        });
        await res.arrayBuffer();
        assert.equal(res.status, 401, what);
      }
    }),
  );
});
