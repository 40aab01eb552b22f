// Kubernetes pull without a static secret, end to end: a Kubernetes-shaped service-account
// token from a loopback issuer → the credential provider's single executable, fed the request
// the kubelet writes → skopeo pulls from the real registry through Purser (kubernetes preset,
// ACL by namespace) with exactly the credentials the provider answered; another namespace's pod
// is refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk, NO_ACCESS } from '../helpers/assert.js';
import { buildProvider, kubeletRequest, runProviderExecutable } from '../helpers/credential-provider.js';
import type { TestIssuer } from '../helpers/issuer.js';
import { type KubeStack, startKubeStack } from '../helpers/kube-stack.js';
import { withLogs } from '../helpers/logs.js';
import { type OciImage, readLayoutDigest } from '../helpers/oci.js';
import type { Skopeo } from '../helpers/skopeo.js';
import { SERVICE, type Stack } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

interface Answer {
  auth: Record<string, { username: string; password: string }>;
}

describe('kubelet credential provider → Purser → registry (skopeo)', { timeout: 180_000 }, () => {
  let kube: KubeStack | undefined;
  let issuer: TestIssuer;
  let stack: Stack;
  let sk: Skopeo;
  let img: OciImage;
  const dirs: string[] = [];
  const logs = () => [...(kube?.stack.logSources() ?? [])];

  /** What the kubelet would do: ask the provider for the image, take auth[registry]. */
  async function credentialsFor(image: string, token: string) {
    const r = await runProviderExecutable(['--registry', stack.host], kubeletRequest(image, token));
    assert.equal(r.code, 0, r.stderr);
    const creds = (JSON.parse(r.stdout) as Answer).auth[stack.host];
    assert.ok(creds, r.stdout);
    return creds;
  }

  before(async () => {
    [kube] = await Promise.all([startKubeStack('a pod'), buildProvider()]);
    ({ issuer, stack, sk, img } = kube);
  });
  after(async () => {
    await kube?.close();
    for (const d of dirs) removeDir(d);
  });

  test(
    "a team-a pod's token, passed through by the provider, pulls team-a/app",
    withLogs(logs, async () => {
      const token = await issuer.kubernetes('team-a', 'web', { aud: [SERVICE] });
      const image = `${stack.host}/team-a/app:v1`;
      const creds = await credentialsFor(image, token);
      assert.deepEqual(creds, { username: 'kubernetes', password: token });
      const out = makeTempDir('purser-kubelet-out-');
      dirs.push(out);
      assertOk(await sk.copy(`docker://${image}`, `oci:${out}:v1`, { src: creds }), 'pull team-a/app');
      assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);
    }),
  );

  test(
    "a team-b pod's token is refused team-a/app",
    withLogs(logs, async () => {
      const token = await issuer.kubernetes('team-b', 'web', { aud: [SERVICE] });
      const image = `${stack.host}/team-a/app:v1`;
      const creds = await credentialsFor(image, token);
      assertFails(await sk.inspect(`docker://${image}`, creds), NO_ACCESS, 'team-b pulls team-a/app');
    }),
  );
});
