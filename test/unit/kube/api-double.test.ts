// The Kubernetes API double, driven by the real @kubernetes/client-node: the calls the
// controller and the Secrets config source make must behave as against an API server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubeApi } from '../../helpers/kube-api/index.js';
import { makeTempDir, removeDir } from '../../helpers/tmp.js';

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('kube-api double through client-node', () => {
  let api: KubeApi;
  let core: k8s.CoreV1Api;
  let kc: k8s.KubeConfig;
  let dir: string;

  before(async () => {
    api = await KubeApi.start({ tls: true });
    dir = makeTempDir('purser-kube-api-');
    kc = new k8s.KubeConfig();
    kc.loadFromFile(api.writeKubeconfig(dir));
    core = kc.makeApiClient(k8s.CoreV1Api);
  });
  after(async () => {
    await api.close();
    removeDir(dir);
  });

  test('create, get, list with selectors, conflict on a stale resourceVersion', async () => {
    const sa = await core.createNamespacedServiceAccount({
      namespace: 'a',
      body: { metadata: { name: 'web', labels: { app: 'web' } } },
    });
    assert.ok(sa.metadata?.uid);
    await core.createNamespacedServiceAccount({ namespace: 'a', body: { metadata: { name: 'db' } } });
    const sel = await core.listNamespacedServiceAccount({ namespace: 'a', labelSelector: 'app in (web,x)' });
    assert.deepEqual(
      sel.items.map((i) => i.metadata?.name),
      ['web'],
    );
    await assert.rejects(
      core.listNamespacedServiceAccount({ namespace: 'a', labelSelector: 'app in (' }),
      (e: k8s.ApiException<unknown>) => e.code === 400,
    );
    const fld = await core.listNamespacedServiceAccount({
      namespace: 'a',
      fieldSelector: 'metadata.name=db',
    });
    assert.deepEqual(
      fld.items.map((i) => i.metadata?.name),
      ['db'],
    );
    const stale = sa.metadata!.resourceVersion!;
    const cur = await core.replaceNamespacedServiceAccount({
      name: 'web',
      namespace: 'a',
      body: { metadata: { name: 'web', resourceVersion: stale, labels: { app: 'web2' } } },
    });
    assert.notEqual(cur.metadata?.resourceVersion, stale);
    await assert.rejects(
      core.replaceNamespacedServiceAccount({
        name: 'web',
        namespace: 'a',
        body: { metadata: { name: 'web', resourceVersion: stale } },
      }),
      (e: k8s.ApiException<unknown>) => e.code === 409,
    );
    await assert.rejects(
      core.readNamespacedServiceAccount({ name: 'nope', namespace: 'a' }),
      (e: k8s.ApiException<unknown>) => e.code === 404,
    );
  });

  test('patch: json-patch (client-node default), merge and strategic merge', async () => {
    await core.createNamespacedServiceAccount({
      namespace: 'p',
      body: { metadata: { name: 'sa' }, imagePullSecrets: [{ name: 'user' }] },
    });
    await core.patchNamespacedServiceAccount({
      name: 'sa',
      namespace: 'p',
      body: [{ op: 'add', path: '/imagePullSecrets/-', value: { name: 'j' } }],
    });
    await core.patchNamespacedServiceAccount(
      { name: 'sa', namespace: 'p', body: { imagePullSecrets: [{ name: 's' }] } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    let sa = await core.readNamespacedServiceAccount({ name: 'sa', namespace: 'p' });
    assert.deepEqual(
      sa.imagePullSecrets?.map((s) => s.name),
      ['user', 'j', 's'],
    );
    await core.patchNamespacedServiceAccount(
      { name: 'sa', namespace: 'p', body: { metadata: { annotations: { x: 'y' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    sa = await core.readNamespacedServiceAccount({ name: 'sa', namespace: 'p' });
    assert.equal(sa.metadata?.annotations?.x, 'y');
  });

  test('TokenRequest: recorded, 600 s minimum, bound Secret uid checked, lifetime shortened on demand', async () => {
    await core.createNamespacedServiceAccount({ namespace: 't', body: { metadata: { name: 'sa' } } });
    const sec = await core.createNamespacedSecret({ namespace: 't', body: { metadata: { name: 's' } } });
    const body = (exp: number, uid = sec.metadata!.uid!) => ({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        audiences: ['reg'],
        expirationSeconds: exp,
        boundObjectRef: { kind: 'Secret', apiVersion: 'v1', name: 's', uid },
      },
    });
    await assert.rejects(
      core.createNamespacedServiceAccountToken({ name: 'sa', namespace: 't', body: body(599) }),
      (e: k8s.ApiException<unknown>) => e.code === 422,
    );
    await assert.rejects(
      core.createNamespacedServiceAccountToken({ name: 'sa', namespace: 't', body: body(600, 'other') }),
      (e: k8s.ApiException<unknown>) => e.code === 409,
    );
    api.maxTokenSeconds = 700;
    const tr = await core.createNamespacedServiceAccountToken({
      name: 'sa',
      namespace: 't',
      body: body(3600),
    });
    api.maxTokenSeconds = undefined;
    assert.ok(tr.status?.token);
    assert.ok(tr.status.expirationTimestamp instanceof Date);
    const life = (tr.status.expirationTimestamp.getTime() - Date.now()) / 1000;
    assert.ok(life > 690 && life <= 700, String(life));
    assert.equal(api.tokenRequests.at(-1)?.spec.expirationSeconds, 3600);
    assert.equal(api.tokenRequests.at(-1)?.grantedSeconds, 700);
  });

  test('informer: events, an ended watch resumes, 410 relists, a 500 and a dropped connection stop it', async () => {
    const inf = k8s.makeInformer(kc, '/api/v1/namespaces/w/secrets', () =>
      core.listNamespacedSecret({ namespace: 'w' }),
    );
    const seen: string[] = [];
    const errors: unknown[] = [];
    inf.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    inf.on('update', (o) => seen.push(`update ${o.metadata?.name}`));
    inf.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    inf.on('error', (e) => errors.push(e));
    await core.createNamespacedSecret({ namespace: 'w', body: { metadata: { name: 'one' } } });
    await inf.start();
    await until(() => api.openWatches('secrets') === 1, 'the watch');
    await core.createNamespacedSecret({ namespace: 'w', body: { metadata: { name: 'two' } } });
    await until(() => seen.includes('add two'), 'add two');
    api.endWatches('secrets');
    await core.deleteNamespacedSecret({ name: 'one', namespace: 'w' });
    await until(() => seen.includes('delete one'), 'delete one after the watch ended');
    assert.equal(api.watchesOpened('secrets'), 2);
    const lists = api.lists('secrets');
    api.store.compact('secrets');
    api.expireWatches('secrets');
    await until(() => api.lists('secrets') > lists, 'a relist after 410');
    await until(() => api.openWatches('secrets') === 1, 'the watch after the relist');
    api.failNextWatch('secrets');
    api.endWatches('secrets');
    await until(() => errors.length === 1, 'the informer error');
    assert.equal((errors[0] as { statusCode?: number }).statusCode, 500);
    // A connection cut mid-stream stops client-node's informer too (node-fetch: premature close).
    await inf.start();
    await until(() => api.openWatches('secrets') === 1, 'the restarted watch');
    api.dropWatches('secrets');
    await until(() => errors.length === 2, 'the second informer error');
    await inf.stop();
    assert.deepEqual(seen.slice(0, 3), ['add one', 'add two', 'delete one']);
  });

  test('leases and events.k8s.io events', async () => {
    const coord = kc.makeApiClient(k8s.CoordinationV1Api);
    const l = await coord.createNamespacedLease({
      namespace: 'k',
      body: {
        metadata: { name: 'l' },
        spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: new k8s.V1MicroTime() },
      },
    });
    assert.equal(l.spec?.holderIdentity, 'a');
    // client-node has no deserializer for MicroTime: it comes back as the string sent.
    assert.match(String(l.spec?.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const ev = kc.makeApiClient(k8s.EventsV1Api);
    await ev.createNamespacedEvent({
      namespace: 'k',
      body: {
        metadata: { generateName: 'x.' },
        eventTime: new k8s.V1MicroTime(),
        reason: 'R',
        action: 'A',
        reportingController: 'c',
        reportingInstance: 'i',
        type: 'Normal',
      },
    });
    assert.equal(api.store.list('events.events.k8s.io', 'k').items.length, 1);
  });
});
