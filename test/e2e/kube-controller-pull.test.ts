// The pull-secret controller end to end: the API double mints Kubernetes-shaped tokens (bound
// to the Secret, signed by a loopback issuer Purser trusts with the kubernetes preset); the
// controller writes one into a dockerconfigjson Secret; skopeo, given exactly that
// .dockerconfigjson as its --authfile, pulls through Purser from the real registry. The token
// of another namespace's ServiceAccount is refused that namespace's image.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk, NO_ACCESS } from '../helpers/assert.js';
import type { TestIssuer } from '../helpers/issuer.js';
import { KubeApi, type KubeObject } from '../helpers/kube-api/index.js';
import { type Replica, startReplica, until } from '../helpers/kube-controller.js';
import { type KubeStack, startKubeStack } from '../helpers/kube-stack.js';
import { withLogs } from '../helpers/logs.js';
import { type OciImage, readLayoutDigest } from '../helpers/oci.js';
import type { Skopeo } from '../helpers/skopeo.js';
import { SERVICE, type Stack } from '../helpers/stack.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

type Secret = KubeObject & { data?: Record<string, string> };

describe('kube-controller pull secret → skopeo --authfile → Purser → registry', { timeout: 180_000 }, () => {
  let kube: KubeStack | undefined;
  let issuer: TestIssuer;
  let stack: Stack;
  let api: KubeApi | undefined;
  let replica: Replica | undefined;
  let sk: Skopeo;
  let img: OciImage;
  const dirs: string[] = [];
  const logs = () => [...(kube?.stack.logSources() ?? [])];

  /** The Secret's .dockerconfigjson, once the controller has written a token into it. */
  async function pullSecret(ns: string, sa: string): Promise<string> {
    let text = '';
    await until(() => {
      const s = api!.get<Secret>('secrets', ns, `${sa}-purser-pull`);
      text = Buffer.from(s?.data?.['.dockerconfigjson'] ?? '', 'base64').toString('utf8');
      return text.includes(stack.host);
    }, `the pull secret of ${ns}/${sa}`);
    return text;
  }

  before(async () => {
    kube = await startKubeStack('a ServiceAccount');
    ({ issuer, stack, sk, img } = kube);
    // What the API server's TokenRequest signs for a Secret binding (k/k pkg/serviceaccount/claims.go).
    api = await KubeApi.start({
      mint: (i) =>
        issuer.kubernetes(i.namespace, i.serviceAccount.metadata.name!, {
          aud: i.audiences,
          iat: i.issuedAt,
          nbf: i.issuedAt,
          exp: i.expiresAt,
          'kubernetes.io': {
            namespace: i.namespace,
            serviceaccount: { name: i.serviceAccount.metadata.name, uid: i.serviceAccount.metadata.uid },
            ...(i.bound ? { secret: { name: i.bound.metadata.name, uid: i.bound.metadata.uid } } : {}),
          },
        }),
    });
    const dir = makeTempDir('purser-kube-pull-');
    dirs.push(dir);
    replica = await startReplica(api, dir, 'controller', [
      '--registry',
      stack.host,
      '--service',
      SERVICE,
      '--token-expiration',
      '10m',
    ]);
    await until(() => replica!.controller.isLeader, 'the controller to lead');
  });
  after(async () => {
    await replica?.stop();
    await api?.close();
    await kube?.close();
    for (const d of dirs) removeDir(d);
  });

  test(
    "team-a's ServiceAccount pulls team-a/app with the Secret the controller wrote",
    withLogs(logs, async () => {
      api!.create('serviceaccounts', 'team-a', {
        metadata: { name: 'web', annotations: { 'purser.dev/pull-secret': 'true' } },
      });
      const authfile = await pullSecret('team-a', 'web');
      assert.equal(JSON.parse(authfile).auths[stack.host].username, 'kubernetes');
      writeFileSync(sk.authFile, authfile);
      const out = makeTempDir('purser-kube-pull-out-');
      dirs.push(out);
      // No --creds: skopeo takes them from the auth file, as the kubelet does from the Secret.
      assertOk(await sk.copy(`docker://${stack.host}/team-a/app:v1`, `oci:${out}:v1`), 'pull team-a/app');
      assert.equal(readLayoutDigest(out, 'v1'), img.manifestDigest);
    }),
  );

  test(
    "team-b's ServiceAccount is refused team-a/app",
    withLogs(logs, async () => {
      api!.create('serviceaccounts', 'team-b', {
        metadata: { name: 'web', annotations: { 'purser.dev/pull-secret': 'true' } },
      });
      writeFileSync(sk.authFile, await pullSecret('team-b', 'web'));
      assertFails(
        await sk.inspect(`docker://${stack.host}/team-a/app:v1`),
        NO_ACCESS,
        'team-b pulls team-a/app',
      );
    }),
  );
});
