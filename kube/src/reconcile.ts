// One ServiceAccount brought to what its opt-in says, reading the API (not a cache: a cache
// mid-relist must never look like an opt-out).
//   opted in:  the Secret exists (created first, so its uid can bind the token), holds a token
//              that is not due for refresh, and is listed in the SA's imagePullSecrets;
//   opted out: our Secret is taken out of imagePullSecrets, then deleted.
// imagePullSecrets changes are JSON patches (client-node's default patch type) guarded by a `test` of the resourceVersion, so an
// entry a user adds at the same moment is never lost, and entries users set are never touched.
import type { CoreV1Api, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { describeApiError, KubeControllerError, statusOf } from './errors.js';
import type { EventRecorder } from './events.js';
import type { Logger } from './log.js';
import type { ControllerMetrics } from './metrics.js';
import {
  CONFIG_DIGEST,
  configDigest,
  DOCKERCONFIGJSON,
  dockerConfigJson,
  EXPIRES_AT,
  isManaged,
  ownedBy,
  placeholderSecret,
  REFRESH_AT,
  secretNameFor,
  type Target,
} from './pull-secret.js';
import { refreshDelayMs } from './schedule.js';

export interface ReconcileDeps {
  core: CoreV1Api;
  target: Target;
  annotation: string;
  namespaceLabel: string;
  tokenExpirationSeconds: number;
  events: EventRecorder;
  metrics: ControllerMetrics;
  log: Logger;
  /** False once this replica stops leading: checked before every write. */
  mayWrite: () => boolean;
  now?: () => number;
  random?: () => number;
}

/** What to do next with the key: come back after `ms`, or drop it. */
export type Outcome = { requeueAfterMs: number } | { done: true };

async function getOrUndefined<T>(op: Promise<T>): Promise<T | undefined> {
  try {
    return await op;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Opt-in: the SA's annotation wins ("true"/"false"); else its namespace's label. */
export function optedIn(
  sa: V1ServiceAccount,
  ns: V1Namespace | undefined,
  annotation: string,
  label: string,
): boolean {
  const a = sa.metadata?.annotations?.[annotation];
  if (a === 'true') return true;
  if (a === 'false') return false;
  return ns?.metadata?.labels?.[label] === 'true';
}

class Step extends Error {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
  ) {
    super(describeApiError(step, cause));
  }
}

async function step<T>(name: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof Step || err instanceof KubeControllerError) throw err;
    throw new Step(name, err);
  }
}

export async function reconcile(d: ReconcileDeps, namespace: string, name: string): Promise<Outcome> {
  const now = d.now ?? Date.now;
  const guard = () => {
    if (!d.mayWrite()) throw new KubeControllerError('API', 'not the leader any more');
  };
  const sa = await step('get serviceaccount', () =>
    getOrUndefined(d.core.readNamespacedServiceAccount({ name, namespace })),
  );
  // Gone: its Secret goes with it (ownerReference, the garbage collector).
  if (!sa) return { done: true };
  const ns = await step('get namespace', () => getOrUndefined(d.core.readNamespace({ name: namespace })));
  const secretName = secretNameFor(name);
  const existing = await step('get secret', () =>
    getOrUndefined(d.core.readNamespacedSecret({ name: secretName, namespace })),
  );

  if (!optedIn(sa, ns, d.annotation, d.namespaceLabel)) {
    if (!existing || !ownedBy(existing, sa)) return { done: true };
    guard();
    await step('patch serviceaccount', () => removePullSecret(d.core, sa, secretName));
    guard();
    await step('delete secret', () =>
      getOrUndefined(d.core.deleteNamespacedSecret({ name: secretName, namespace })),
    );
    d.metrics.cleanups.inc();
    d.log('info', 'opted out: pull secret removed', { namespace, serviceAccount: name, secret: secretName });
    await d.events.record(
      sa,
      'Normal',
      'PullSecretRemoved',
      `Removed pull secret ${secretName}: the ServiceAccount is no longer opted in`,
    );
    return { done: true };
  }

  let secret = existing;
  if (secret && !ownedBy(secret, sa)) {
    if (!isManaged(secret))
      throw new KubeControllerError(
        'SECRET_CONFLICT',
        `Secret ${namespace}/${secretName} exists and was not written by this controller; rename or delete it`,
      );
    // Ours, but for a deleted namesake of this SA that the garbage collector has not reached.
    guard();
    await step('delete secret', () =>
      getOrUndefined(d.core.deleteNamespacedSecret({ name: secretName, namespace })),
    );
    secret = undefined;
  }
  if (!secret) {
    guard();
    secret = await step('create secret', () =>
      d.core.createNamespacedSecret({ namespace, body: placeholderSecret(sa, secretName) }),
    );
  }

  const digest = configDigest(d.target);
  const refreshAt = Date.parse(secret.metadata?.annotations?.[REFRESH_AT] ?? '');
  const fresh =
    secret.type === DOCKERCONFIGJSON &&
    secret.metadata?.annotations?.[CONFIG_DIGEST] === digest &&
    Number.isFinite(refreshAt) &&
    refreshAt > now();
  let dueMs: number;
  if (fresh) {
    dueMs = refreshAt - now();
  } else {
    guard();
    const tr = await step('create token', () =>
      d.core.createNamespacedServiceAccountToken({
        name,
        namespace,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            audiences: [d.target.service],
            expirationSeconds: d.tokenExpirationSeconds,
            boundObjectRef: { kind: 'Secret', apiVersion: 'v1', name: secretName, uid: secret.metadata!.uid },
          },
        },
      }),
    );
    const token = tr.status?.token;
    const exp = tr.status?.expirationTimestamp ? new Date(tr.status.expirationTimestamp) : undefined;
    if (!token || !exp || Number.isNaN(exp.getTime()))
      throw new KubeControllerError(
        'BAD_ANSWER',
        'the TokenRequest answer has no token or no expirationTimestamp',
      );
    if (exp.getTime() <= now())
      throw new KubeControllerError(
        'BAD_ANSWER',
        `the TokenRequest answer expired already (${exp.toISOString()})`,
      );
    // From the RETURNED expiry: the API server may grant less than asked.
    dueMs = refreshDelayMs(exp, now(), d.random);
    const next: V1Secret = {
      ...secret,
      type: DOCKERCONFIGJSON,
      metadata: {
        ...secret.metadata,
        annotations: {
          ...secret.metadata?.annotations,
          [EXPIRES_AT]: exp.toISOString(),
          [REFRESH_AT]: new Date(now() + dueMs).toISOString(),
          [CONFIG_DIGEST]: digest,
        },
      },
      data: { '.dockerconfigjson': dockerConfigJson(d.target, token) },
    };
    guard();
    // With the resourceVersion read: a concurrent writer makes this a 409 and a retry.
    await step('update secret', () =>
      d.core.replaceNamespacedSecret({ name: secretName, namespace, body: next }),
    );
    d.metrics.refreshes.inc();
    d.metrics.tokenLifetime.set(Math.round((exp.getTime() - now()) / 1000));
    d.log('info', 'pull secret refreshed', {
      namespace,
      serviceAccount: name,
      secret: secretName,
      expiresAt: exp.toISOString(),
      refreshInMs: dueMs,
    });
    await d.events.record(
      sa,
      'Normal',
      'PullSecretRefreshed',
      `Wrote a token for ${d.target.registry} to ${secretName}, valid until ${exp.toISOString()}`,
    );
  }
  if (!(sa.imagePullSecrets ?? []).some((r) => r.name === secretName)) {
    guard();
    await step('patch serviceaccount', () => addPullSecret(d.core, sa, secretName));
  }
  return { requeueAfterMs: dueMs };
}

function addPullSecret(core: CoreV1Api, sa: V1ServiceAccount, secretName: string) {
  const list = sa.imagePullSecrets;
  const ops = [
    { op: 'test', path: '/metadata/resourceVersion', value: sa.metadata?.resourceVersion },
    list
      ? { op: 'add', path: '/imagePullSecrets/-', value: { name: secretName } }
      : { op: 'add', path: '/imagePullSecrets', value: [{ name: secretName }] },
  ];
  return core.patchNamespacedServiceAccount({
    name: sa.metadata!.name!,
    namespace: sa.metadata!.namespace!,
    body: ops,
  });
}

async function removePullSecret(core: CoreV1Api, sa: V1ServiceAccount, secretName: string) {
  const i = (sa.imagePullSecrets ?? []).findIndex((r) => r.name === secretName);
  if (i < 0) return;
  const ops = [
    { op: 'test', path: '/metadata/resourceVersion', value: sa.metadata?.resourceVersion },
    { op: 'test', path: `/imagePullSecrets/${i}/name`, value: secretName },
    { op: 'remove', path: `/imagePullSecrets/${i}` },
  ];
  await core.patchNamespacedServiceAccount({
    name: sa.metadata!.name!,
    namespace: sa.metadata!.namespace!,
    body: ops,
  });
}
