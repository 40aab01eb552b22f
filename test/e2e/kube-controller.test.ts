// purser kube-controller (@purser/kube) through the real @kubernetes/client-node against the
// kube-api double: opt-in, the Secret-bound TokenRequest, imagePullSecrets users set left alone,
// refreshes timed from the RETURNED expirationTimestamp, watches restarted after an error and
// relisted after a 410, opt-out cleanup, and one writer among two replicas.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KubeApi as Api, defaultMinter, type KubeApi, type KubeObject } from '../helpers/kube-api/index.js';
import { KC_REGISTRY, KC_SERVICE, type Replica, startReplica, until } from '../helpers/kube-controller.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const ANNOTATION = 'purser.dev/pull-secret';
const LABEL = 'purser.dev/pull-secrets';

type Sa = KubeObject & { imagePullSecrets?: { name: string }[] };
type Secret = KubeObject & { type?: string; data?: Record<string, string> };

function dockerConfig(s: Secret): {
  auths: Record<string, { username: string; password: string; auth: string }>;
} {
  return JSON.parse(Buffer.from(s.data?.['.dockerconfigjson'] ?? '', 'base64').toString('utf8'));
}

async function metric(r: Replica, line: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.controller.metricsPort}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').at(-1)) : 0;
}

/** Every token the double minted, to check none reaches a log line. */
const minted: string[] = [];
function recordingApi(): Promise<KubeApi> {
  return Api.start({
    mint: async (i) => {
      const t = await defaultMinter(i);
      minted.push(t);
      return t;
    },
  });
}

describe('kube-controller against the API double', { timeout: 120_000 }, () => {
  let api: KubeApi;
  let dir: string;
  let r: Replica;
  const secretOf = (ns: string, sa: string) => api.get<Secret>('secrets', ns, `${sa}-purser-pull`);
  const saOf = (ns: string, sa: string) => api.get<Sa>('serviceaccounts', ns, sa)!;
  const tokenRequestsFor = (ns: string, sa: string) =>
    api.tokenRequests.filter((t) => t.namespace === ns && t.serviceAccount === sa);

  before(async () => {
    api = await recordingApi();
    dir = makeTempDir('purser-kube-controller-');
    r = await startReplica(api, dir, 'replica-a');
    await until(() => r.controller.isLeader, 'the only replica to lead');
  });
  after(async () => {
    await r?.stop();
    await api?.close();
    if (dir) removeDir(dir);
    for (const line of r?.lines ?? [])
      for (const t of minted) assert.ok(!line.includes(t), `a token in a log line: ${line}`);
  });

  test('an annotated ServiceAccount gets a Secret-bound token in a dockerconfigjson Secret it owns, listed in imagePullSecrets', async () => {
    api.create('serviceaccounts', 'team-a', {
      metadata: { name: 'web', annotations: { [ANNOTATION]: 'true' } },
    });
    api.create('serviceaccounts', 'team-a', { metadata: { name: 'plain' } });
    await until(() => (saOf('team-a', 'web').imagePullSecrets ?? []).length === 1, 'imagePullSecrets');
    const sa = saOf('team-a', 'web');
    const secret = secretOf('team-a', 'web')!;
    assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
    assert.deepEqual(secret.metadata.ownerReferences, [
      { apiVersion: 'v1', kind: 'ServiceAccount', name: 'web', uid: sa.metadata.uid, controller: true },
    ]);
    const [tr] = tokenRequestsFor('team-a', 'web');
    assert.ok(tr);
    assert.deepEqual(tr.spec.audiences, [KC_SERVICE]);
    assert.ok((tr.spec.expirationSeconds ?? 0) >= 600);
    assert.deepEqual(tr.spec.boundObjectRef, {
      kind: 'Secret',
      apiVersion: 'v1',
      name: 'web-purser-pull',
      uid: secret.metadata.uid,
    });
    const auth = dockerConfig(secret).auths[KC_REGISTRY]!;
    assert.equal(auth.username, 'kubernetes');
    assert.ok(minted.includes(auth.password));
    assert.equal(Buffer.from(auth.auth, 'base64').toString(), `kubernetes:${auth.password}`);
    assert.deepEqual(sa.imagePullSecrets, [{ name: 'web-purser-pull' }]);
    const events = api.store.list('events', 'team-a').items as (KubeObject & {
      reason?: string;
      involvedObject?: { name?: string };
    })[];
    assert.ok(events.some((e) => e.reason === 'PullSecretRefreshed' && e.involvedObject?.name === 'web'));
    // Never every ServiceAccount.
    assert.equal(secretOf('team-a', 'plain'), undefined);
    assert.equal(tokenRequestsFor('team-a', 'plain').length, 0);
  });

  test('a pull secret a user set is left alone, on opt-in and on opt-out; opting out removes ours and its Secret', async () => {
    api.create('serviceaccounts', 'team-u', {
      metadata: { name: 'app', annotations: { [ANNOTATION]: 'true' } },
      imagePullSecrets: [{ name: 'user-creds' }],
    });
    await until(() => (saOf('team-u', 'app').imagePullSecrets ?? []).length === 2, 'ours added');
    assert.deepEqual(saOf('team-u', 'app').imagePullSecrets, [
      { name: 'user-creds' },
      { name: 'app-purser-pull' },
    ]);
    // The user adds one more after us.
    api.store.patch('serviceaccounts', 'team-u', 'app', 'application/json-patch+json', [
      { op: 'add', path: '/imagePullSecrets/-', value: { name: 'user-later' } },
    ]);
    api.store.patch('serviceaccounts', 'team-u', 'app', 'application/merge-patch+json', {
      metadata: { annotations: { [ANNOTATION]: 'false' } },
    });
    await until(() => secretOf('team-u', 'app') === undefined, 'our Secret deleted');
    assert.deepEqual(saOf('team-u', 'app').imagePullSecrets, [
      { name: 'user-creds' },
      { name: 'user-later' },
    ]);
  });

  test('a labelled namespace opts all its ServiceAccounts in, but one annotated "false"; taking the label off cleans up', async () => {
    api.create('namespaces', undefined, { metadata: { name: 'team-n', labels: { [LABEL]: 'true' } } });
    api.create('serviceaccounts', 'team-n', { metadata: { name: 'default' } });
    api.create('serviceaccounts', 'team-n', {
      metadata: { name: 'out', annotations: { [ANNOTATION]: 'false' } },
    });
    await until(
      () =>
        secretOf('team-n', 'default') !== undefined &&
        (saOf('team-n', 'default').imagePullSecrets ?? []).length === 1,
      'default opted in',
    );
    assert.equal(secretOf('team-n', 'out'), undefined);
    api.store.patch('namespaces', undefined, 'team-n', 'application/merge-patch+json', {
      metadata: { labels: { [LABEL]: null } },
    });
    await until(() => secretOf('team-n', 'default') === undefined, 'cleanup after the label is gone');
    assert.deepEqual(saOf('team-n', 'default').imagePullSecrets, []);
  });

  test('a Secret of the same name the controller did not write is not touched (a Warning event says so)', async () => {
    api.create('secrets', 'team-c', { metadata: { name: 'web-purser-pull' }, data: { mine: 'eA==' } });
    api.create('serviceaccounts', 'team-c', {
      metadata: { name: 'web', annotations: { [ANNOTATION]: 'true' } },
    });
    await until(
      () =>
        (api.store.list('events', 'team-c').items as (KubeObject & { reason?: string })[]).some(
          (e) => e.reason === 'PullSecretFailed',
        ),
      'the warning event',
    );
    assert.deepEqual(secretOf('team-c', 'web')!.data, { mine: 'eA==' });
    assert.equal(tokenRequestsFor('team-c', 'web').length, 0);
    assert.equal(saOf('team-c', 'web').imagePullSecrets, undefined);
  });

  test('the refresh follows the RETURNED expirationTimestamp (the API server granted 4 s of the 3600 asked)', async () => {
    api.maxTokenSeconds = 4;
    try {
      api.create('serviceaccounts', 'team-s', {
        metadata: { name: 'short', annotations: { [ANNOTATION]: 'true' } },
      });
      await until(() => tokenRequestsFor('team-s', 'short').length >= 2, 'a second TokenRequest', 8000);
    } finally {
      api.maxTokenSeconds = undefined;
    }
    const [first, second] = tokenRequestsFor('team-s', 'short');
    assert.equal(first!.spec.expirationSeconds, 3600);
    assert.equal(first!.grantedSeconds, 4);
    const gap = second!.at.getTime() - first!.at.getTime();
    // Half of the 4 s left, ±10 %, plus the time the writes took.
    assert.ok(gap >= 1000 && gap <= 5000, `refreshed after ${gap} ms`);
    const longLived = () =>
      Date.parse(secretOf('team-s', 'short')?.metadata.annotations?.['purser.dev/expires-at'] ?? '');
    await until(() => longLived() > Date.now() + 3000_000, 'a full-length token in the Secret');
    const s = secretOf('team-s', 'short')!;
    const expires = Date.parse(s.metadata.annotations!['purser.dev/expires-at']!);
    const refresh = Date.parse(s.metadata.annotations!['purser.dev/refresh-at']!);
    const half = (expires - Date.now()) / 2;
    assert.ok(
      refresh - Date.now() > half * 0.85 && refresh - Date.now() < half * 1.15,
      'refresh at about half the remaining life',
    );
    api.store.delete('serviceaccounts', 'team-s', 'short');
  });

  test('a watch that fails (HTTP 500) is restarted: client-node stopped it, the controller starts it again', async () => {
    const opened = api.watchesOpened('serviceaccounts');
    const restarts = await metric(
      r,
      /^purser_kube_watch_restarts_total\{resource="serviceaccounts",reason="error"\}/,
    );
    api.failNextWatch('serviceaccounts');
    api.endWatches('serviceaccounts');
    await until(
      // The refused watch never opened; the one after it did.
      () => api.watchesOpened('serviceaccounts') >= opened + 1 && api.openWatches('serviceaccounts') === 1,
      'a new watch',
    );
    assert.equal(
      await metric(r, /^purser_kube_watch_restarts_total\{resource="serviceaccounts",reason="error"\}/),
      restarts + 1,
    );
    api.create('serviceaccounts', 'team-w', {
      metadata: { name: 'after', annotations: { [ANNOTATION]: 'true' } },
    });
    await until(
      () => secretOf('team-w', 'after') !== undefined,
      'a ServiceAccount created after the restart handled',
    );
  });

  test('a 410 Gone (the revision was compacted) relists, and the watch goes on', async () => {
    const lists = api.lists('serviceaccounts');
    const errorRestarts = await metric(
      r,
      /^purser_kube_watch_restarts_total\{resource="serviceaccounts",reason="error"\}/,
    );
    // The store moves on and forgets the ServiceAccounts' history: the watch, ended by the
    // server, comes back from a revision that is gone.
    api.create('configmaps', 'team-g', { metadata: { name: 'bump' } });
    api.store.compact('serviceaccounts');
    api.endWatches('serviceaccounts');
    await until(() => api.lists('serviceaccounts') > lists, 'a relist');
    await until(() => api.openWatches('serviceaccounts') === 1, 'the watch again');
    assert.ok(
      api.requests.some(
        (q) => q.query.watch === 'true' && q.path === '/api/v1/serviceaccounts' && q.status === 200,
      ),
    );
    api.create('serviceaccounts', 'team-g', {
      metadata: { name: 'later', annotations: { [ANNOTATION]: 'true' } },
    });
    await until(() => secretOf('team-g', 'later') !== undefined, 'an SA added after the relist handled');
    assert.equal(
      await metric(r, /^purser_kube_watch_restarts_total\{resource="serviceaccounts",reason="error"\}/),
      errorRestarts,
      '410 is not an error restart',
    );
  });

  test('a deleted pull Secret is written again at once', async () => {
    api.create('serviceaccounts', 'team-d', {
      metadata: { name: 'web', annotations: { [ANNOTATION]: 'true' } },
    });
    const written = () => !!secretOf('team-d', 'web')?.metadata.annotations?.['purser.dev/expires-at'];
    await until(written, 'the Secret with its token');
    const uid = secretOf('team-d', 'web')!.metadata.uid;
    api.store.delete('secrets', 'team-d', 'web-purser-pull');
    await until(
      () => secretOf('team-d', 'web') !== undefined && secretOf('team-d', 'web')!.metadata.uid !== uid,
      'a new Secret',
    );
    await until(
      () =>
        tokenRequestsFor('team-d', 'web').at(-1)?.spec.boundObjectRef?.uid ===
        secretOf('team-d', 'web')?.metadata.uid,
      'a token bound to the new Secret',
    );
    await until(written, 'the token written');
  });

  test('/healthz and /metrics', async () => {
    const h = await fetch(`http://127.0.0.1:${r.controller.metricsPort}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(await metric(r, /^purser_kube_leader /), 1);
    assert.ok((await metric(r, /^purser_kube_refreshes_total /)) >= 3);
  });
});

describe('kube-controller: two replicas, one leader', { timeout: 120_000 }, () => {
  let api: KubeApi;
  let dir: string;
  let a: Replica | undefined;
  let b: Replica | undefined;
  const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
  const isWork = (path: string) => !path.includes('/leases');
  const writesBy = (user: string, since = 0) =>
    api.requests.filter(
      (q) => q.user === user && WRITES.has(q.method) && isWork(q.path) && q.at.getTime() >= since,
    );

  before(async () => {
    api = await recordingApi();
    dir = makeTempDir('purser-kube-leader-');
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await api?.close();
    if (dir) removeDir(dir);
  });

  test('only the leader writes; when its renewals fail it stops, and the other takes over', async () => {
    a = await startReplica(api, dir, 'replica-a');
    await until(() => a!.controller.isLeader, 'a to lead');
    b = await startReplica(api, dir, 'replica-b');
    api.create('serviceaccounts', 'lead', {
      metadata: { name: 'one', annotations: { [ANNOTATION]: 'true' } },
    });
    await until(() => api.get('secrets', 'lead', 'one-purser-pull') !== undefined, 'the Secret');
    await new Promise((res) => setTimeout(res, 600)); // b had time to act, if it would
    assert.equal(b.controller.isLeader, false);
    assert.ok(writesBy('replica-a').length >= 3);
    assert.deepEqual(writesBy('replica-b'), []);

    // a's renewals fail from now on (its reads still work).
    api.faults.add(
      { user: 'replica-a', method: 'PUT', resource: 'leases.coordination.k8s.io' },
      500,
      'InternalError',
      'injected',
      {
        times: Number.POSITIVE_INFINITY,
      },
    );
    const cut = Date.now();
    let both = false;
    await until(
      () => {
        if (a!.controller.isLeader && b!.controller.isLeader) both = true;
        return b!.controller.isLeader;
      },
      'b to take over',
      10_000,
    );
    assert.equal(both, false, 'never two leaders');
    assert.equal(a.controller.isLeader, false);
    assert.ok(Date.now() - cut >= 1500, 'not before a could have stepped down');
    const tookOver = Date.now();
    // The new leader does the work: a deleted Secret comes back, written by b only.
    api.store.delete('secrets', 'lead', 'one-purser-pull');
    // Create the Secret, request the token, write it: three writes, all b's.
    await until(() => writesBy('replica-b', tookOver).length >= 3, 'b rewrites the Secret');
    assert.ok(api.get('secrets', 'lead', 'one-purser-pull'));
    assert.deepEqual(writesBy('replica-a', tookOver), []);
    const lease = api.get<KubeObject & { spec: { holderIdentity: string; leaseTransitions: number } }>(
      'leases.coordination.k8s.io',
      'kube-system',
      'purser-kube-controller',
    )!;
    assert.equal(lease.spec.holderIdentity, 'replica-b');
    assert.equal(lease.spec.leaseTransitions, 1);
  });

  test('a leader that stops releases the Lease: the other takes over without waiting it out', async () => {
    api.faults.clear();
    await b!.stop();
    const stopped = Date.now();
    await until(() => a!.controller.isLeader, 'a to lead again', 5000);
    assert.ok(
      Date.now() - stopped < 1500,
      `took ${Date.now() - stopped} ms (a 2 s Lease would be waited out)`,
    );
    b = undefined;
  });
});
