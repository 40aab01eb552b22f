// The Secret the controller writes for a ServiceAccount: its name, its labels and annotations,
// and the .dockerconfigjson that holds the token.
import { createHash } from 'node:crypto';
import type { V1OwnerReference, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'purser-kube-controller';
export const EXPIRES_AT = 'purser.dev/expires-at';
export const REFRESH_AT = 'purser.dev/refresh-at';
/** A digest of registry, audience and username: a change of flags makes every Secret refresh. */
export const CONFIG_DIGEST = 'purser.dev/config';
export const DOCKERCONFIGJSON = 'kubernetes.io/dockerconfigjson';

const SUFFIX = '-purser-pull';

/** `<sa>-purser-pull`, shortened with a digest when the ServiceAccount's name is too long. */
export function secretNameFor(sa: string): string {
  const name = `${sa}${SUFFIX}`;
  if (name.length <= 253) return name;
  const digest = createHash('sha256').update(sa).digest('hex').slice(0, 10);
  return `${sa.slice(0, 253 - SUFFIX.length - 11).replace(/[-.]+$/, '')}-${digest}${SUFFIX}`;
}

export interface Target {
  registry: string;
  service: string;
  provider: string;
}

export function configDigest(t: Target): string {
  return createHash('sha256')
    .update(JSON.stringify([t.registry, t.service, t.provider]))
    .digest('hex')
    .slice(0, 16);
}

/** The `.dockerconfigjson` value (base64, as Secret data is). */
export function dockerConfigJson(t: Target, token: string): string {
  const auth = Buffer.from(`${t.provider}:${token}`).toString('base64');
  const doc = { auths: { [t.registry]: { username: t.provider, password: token, auth } } };
  return Buffer.from(JSON.stringify(doc)).toString('base64');
}

export function ownerRef(sa: V1ServiceAccount): V1OwnerReference {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    name: sa.metadata!.name!,
    uid: sa.metadata!.uid!,
    controller: true,
  };
}

/** Written by this controller, for this very ServiceAccount (not a namesake deleted since)? */
export function ownedBy(secret: V1Secret, sa: V1ServiceAccount): boolean {
  return (
    isManaged(secret) && (secret.metadata?.ownerReferences ?? []).some((r) => r.uid === sa.metadata?.uid)
  );
}

export function isManaged(secret: V1Secret): boolean {
  return secret.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
}

/** The Secret before it holds a token: created first, so its uid can bind the token. */
export function placeholderSecret(sa: V1ServiceAccount, name: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: sa.metadata!.namespace!,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
      annotations: {
        'kubernetes.io/description': `image pull secret of ServiceAccount ${sa.metadata!.name}, refreshed by ${MANAGED_BY}`,
      },
      ownerReferences: [ownerRef(sa)],
    },
    type: DOCKERCONFIGJSON,
    data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') },
  };
}
