// The stack both Kubernetes pull tests share: a loopback issuer of Kubernetes-shaped tokens,
// Purser with the kubernetes preset and an ACL by namespace in front of the real registry,
// and team-a/app:v1 pushed by alice.
import { assertOk } from './assert.js';
import { TestIssuer, waitFor } from './issuer.js';
import { buildOciImage, type OciImage } from './oci.js';
import { createSkopeo, type Skopeo } from './skopeo.js';
import { ALICE, SERVICE, type Stack, startStack } from './stack.js';
import { removeDir } from './tmp.js';

export interface KubeStack {
  issuer: TestIssuer;
  stack: Stack;
  sk: Skopeo;
  /** The image pushed as team-a/app:v1. */
  img: OciImage;
  close(): Promise<void>;
}

/** `who` names the caller in the namespace rule's comment (a pod, a ServiceAccount). */
export async function startKubeStack(who: string): Promise<KubeStack> {
  const [issuer, img] = await Promise.all([TestIssuer.start(), buildOciImage({ tag: 'v1' })]);
  const sk = createSkopeo();
  let stack: Stack | undefined;
  const close = async () => {
    await stack?.stop();
    await issuer.close();
    sk.cleanup();
    removeDir(img.dir);
  };
  try {
    stack = await startStack({
      acl: [
        { match: { account: ALICE.username }, actions: ['*'] },
        {
          match: { provider: 'kubernetes', type: 'repository', name: '${labels.namespace}/*' },
          actions: ['pull'],
          comment: `${who} pulls the images of its own namespace`,
        },
      ],
      extra: {
        auth: { anonymous: false, failedLogins: { max: 1000 } },
        providers: [{ name: 'kubernetes', preset: 'kubernetes', issuer: issuer.url, audience: SERVICE }],
      },
    });
    await waitFor(() => issuer.hits.jwks >= 1, 'Purser to fetch the JWKS');
    assertOk(
      await sk.copy(img.ref, `docker://${stack.host}/team-a/app:v1`, { dest: ALICE }),
      'alice seeds team-a/app',
    );
  } catch (e) {
    await close();
    throw e;
  }
  return { issuer, stack, sk, img, close };
}
