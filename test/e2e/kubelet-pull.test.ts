// Kubernetes pull without a static secret, end to end: a Kubernetes-shaped service-account
// token from a loopback issuer → the credential provider's single executable, fed the request
// the kubelet writes → skopeo pulls from the real registry through Purser (kubernetes preset,
// ACL by namespace) with exactly the credentials the provider answered; another namespace's pod
// is refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk, NO_ACCESS } from '../helpers/assert.js';
import { buildProvider, kubeletRequest, runProviderExecutable } from '../helpers/credential-provider.js';
import { TestIssuer, waitFor } from '../helpers/issuer.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage, readLayoutDigest } from '../helpers/oci.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { ALICE, SERVICE, type Stack, startStack } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

interface Answer {
  auth: Record<string, { username: string; password: string }>;
}

describe('kubelet credential provider → Purser → registry (skopeo)', { timeout: 180_000 }, () => {
  let issuer: TestIssuer | undefined;
  let stack: Stack | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage;
  const dirs: string[] = [];
  const logs = () => [...(stack?.logSources() ?? [])];

  /** What the kubelet would do: ask the provider for the image, take auth[registry]. */
  async function credentialsFor(image: string, token: string) {
    const r = await runProviderExecutable(['--registry', stack!.host], kubeletRequest(image, token));
    assert.equal(r.code, 0, r.stderr);
    const creds = (JSON.parse(r.stdout) as Answer).auth[stack!.host];
    assert.ok(creds, r.stdout);
    return creds;
  }

  before(async () => {
    const [, iss, image] = await Promise.all([
      buildProvider(),
      TestIssuer.start(),
      buildOciImage({ tag: 'v1' }),
    ]);
    issuer = iss;
    img = image;
    dirs.push(img.dir);
    sk = createSkopeo();
    stack = await startStack({
      acl: [
        { match: { account: ALICE.username }, actions: ['*'] },
        {
          match: { provider: 'kubernetes', type: 'repository', name: '${labels.namespace}/*' },
          actions: ['pull'],
          comment: 'a pod pulls the images of its own namespace',
        },
      ],
      extra: {
        auth: { anonymous: false, failedLogins: { max: 1000 } },
        providers: [{ name: 'kubernetes', preset: 'kubernetes', issuer: issuer.url, audience: SERVICE }],
      },
    });
    await waitFor(() => issuer!.hits.jwks >= 1, 'Purser to fetch the JWKS');
    assertOk(
      await sk.copy(img.ref, `docker://${stack.host}/team-a/app:v1`, { dest: ALICE }),
      'alice seeds team-a/app',
    );
  });
  after(async () => {
    await stack?.stop();
    await issuer?.close();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  test(
    "a team-a pod's token, passed through by the provider, pulls team-a/app",
    withLogs(logs, async () => {
      const token = await issuer!.kubernetes('team-a', 'web', { aud: [SERVICE] });
      const image = `${stack!.host}/team-a/app:v1`;
      const creds = await credentialsFor(image, token);
      assert.deepEqual(creds, { username: 'kubernetes', password: token });
      const out = makeTempDir('purser-kubelet-out-');
      dirs.push(out);
      assertOk(await sk!.copy(`docker://${image}`, `oci:${out}:v1`, { src: creds }), 'pull team-a/app');
      assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);
    }),
  );

  test(
    "a team-b pod's token is refused team-a/app",
    withLogs(logs, async () => {
      const token = await issuer!.kubernetes('team-b', 'web', { aud: [SERVICE] });
      const image = `${stack!.host}/team-a/app:v1`;
      const creds = await credentialsFor(image, token);
      assertFails(await sk!.inspect(`docker://${image}`, creds), NO_ACCESS, 'team-b pulls team-a/app');
    }),
  );
});
