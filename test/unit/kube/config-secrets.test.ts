// The Secret watcher of kubernetes.configSecrets (kube/src/config-secrets.ts) through the real
// @kubernetes/client-node against the API double: whole sorted lists after add/update/delete,
// the label selector, a watch error and a 410 recovered, a delete missed while the watch was
// down still seen, and start() giving up when the API never answers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ConfigSecretsSource, type SecretOverlay } from '../../../kube/src/config-secrets.js';
import { KubeApi } from '../../helpers/kube-api/index.js';

const NS = 'purser';
const LABEL = { 'purser-config': 'true' };

async function until(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const names = (l: readonly SecretOverlay[]) => l.map((o) => o.name);

describe('config Secrets watcher through client-node', () => {
  let api: KubeApi;
  let kc: k8s.KubeConfig;

  before(async () => {
    api = await KubeApi.start();
    kc = new k8s.KubeConfig();
    kc.loadFromOptions(api.kubeconfigOptions({ namespace: NS }));
  });
  after(async () => {
    await api.close();
  });

  const put = (name: string, config: string | undefined, labels: Record<string, string> = LABEL) => {
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: NS, labels },
      data: config === undefined ? { other: b64('x') } : { config: b64(config) },
    };
    const cur = api.store.get('secrets', NS, name);
    if (cur)
      api.store.replace('secrets', NS, name, {
        ...body,
        metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion },
      });
    else api.store.create('secrets', NS, body);
  };

  const remove = (...ns: string[]) => {
    for (const n of ns) if (api.store.get('secrets', NS, n)) api.store.delete('secrets', NS, n);
  };

  const source = (errors: string[] = []) =>
    new ConfigSecretsSource({
      namespace: NS,
      labelSelector: 'purser-config=true',
      kubeConfig: kc,
      debounceMs: 20,
      backoffMinMs: 20,
      backoffMaxMs: 100,
      onWatchError: (e) => errors.push(e),
    });

  test('the first list, sorted by name, selector applied; add, update, delete each hand on the whole list', async () => {
    put('b-users', 'users: {}\n');
    put('a-keys', 'token: {}\n');
    put('unlabelled', 'users: {}\n', { other: 'x' });
    const lists: (readonly SecretOverlay[])[] = [];
    const s = source();
    try {
      const first = await s.start((l) => lists.push(l));
      assert.deepEqual(names(first), [`${NS}/a-keys`, `${NS}/b-users`]);
      assert.equal(first[0]!.yaml, 'token: {}\n');
      put('c-more', 'acl: []\n');
      await until(() => lists.length === 1, 'the add');
      assert.deepEqual(names(lists[0]!), [`${NS}/a-keys`, `${NS}/b-users`, `${NS}/c-more`]);
      put('b-users', 'users: { bob: x }\n');
      await until(() => lists.length === 2, 'the update');
      assert.equal(lists[1]!.find((o) => o.name === `${NS}/b-users`)!.yaml, 'users: { bob: x }\n');
      api.store.delete('secrets', NS, 'a-keys');
      await until(() => lists.length === 3, 'the delete');
      assert.deepEqual(names(lists[2]!), [`${NS}/b-users`, `${NS}/c-more`]);
      // A labelled Secret without a config key is handed on (the runtime refuses it by name).
      put('d-nokey', undefined);
      await until(() => lists.length === 4, 'the Secret without config');
      assert.equal(lists[3]!.find((o) => o.name === `${NS}/d-nokey`)!.yaml, undefined);
    } finally {
      await s.close();
      remove('b-users', 'c-more', 'd-nokey', 'unlabelled');
    }
  });

  test('a watch error restarts the watch with backoff; a delete while it was down is still seen', async () => {
    put('a', 'users: {}\n');
    put('b', 'users: {}\n');
    const lists: (readonly SecretOverlay[])[] = [];
    const errors: string[] = [];
    const s = source(errors);
    try {
      await s.start((l) => lists.push(l));
      await until(() => api.openWatches('secrets') === 1, 'the watch');
      const opened = api.watchesOpened('secrets');
      // The watch is cut and the next one answers 500 twice: meanwhile b is deleted.
      api.failNextWatch('secrets', { code: 500, times: 2 });
      api.faults.add({ resource: 'secrets', watch: false }, 500, 'InternalError', 'injected list failure');
      api.dropWatches('secrets');
      api.store.delete('secrets', NS, 'b');
      await until(() => errors.length >= 1, 'a reported error');
      await until(() => lists.length === 1, 'the list after recovery');
      assert.deepEqual(names(lists[0]!), [`${NS}/a`]);
      await until(() => api.watchesOpened('secrets') > opened, 'a new watch');
      assert.ok(
        errors.every((e) => !e.includes('users')),
        'no Secret data in an error',
      );
      // And it keeps watching.
      put('c', 'users: {}\n');
      await until(() => lists.length === 2, 'an add after recovery');
      assert.deepEqual(names(lists[1]!), [`${NS}/a`, `${NS}/c`]);
    } finally {
      await s.close();
      api.faults.clear();
      remove('a', 'b', 'c');
    }
  });

  test('a 410 on the watch relists (no error reported) and changes keep arriving', async () => {
    put('a', 'users: {}\n');
    const lists: (readonly SecretOverlay[])[] = [];
    const errors: string[] = [];
    const s = source(errors);
    try {
      await s.start((l) => lists.push(l));
      await until(() => api.openWatches('secrets') === 1, 'the watch');
      const listed = api.lists('secrets');
      api.store.compact('secrets');
      api.expireWatches('secrets');
      put('b', 'users: {}\n');
      await until(() => lists.length === 1, 'the list after the 410');
      assert.deepEqual(names(lists.at(-1)!), [`${NS}/a`, `${NS}/b`]);
      await until(() => api.lists('secrets') > listed, 'a relist');
      assert.deepEqual(errors, []);
      api.goneNextWatch('secrets');
      api.endWatches('secrets');
      api.store.delete('secrets', NS, 'a');
      await until(() => lists.length === 2, 'the delete after a second 410');
      assert.deepEqual(names(lists.at(-1)!), [`${NS}/b`]);
    } finally {
      await s.close();
      remove('a', 'b');
    }
  });

  test('start() gives up when the Secrets can never be listed', async () => {
    api.faults.add({ resource: 'secrets', watch: false }, 403, 'Forbidden', 'secrets is forbidden', {
      times: Number.POSITIVE_INFINITY,
    });
    const errors: string[] = [];
    const s = new ConfigSecretsSource({
      namespace: NS,
      labelSelector: 'purser-config=true',
      kubeConfig: kc,
      startTimeoutMs: 300,
      backoffMinMs: 20,
      backoffMaxMs: 50,
      onWatchError: (e) => errors.push(e),
    });
    try {
      await assert.rejects(
        s.start(() => {}),
        /no list of the Secrets in purser within 300 ms/,
      );
      assert.match(errors[0]!, /HTTP 403/);
    } finally {
      api.faults.clear();
      await s.close();
    }
  });
});
