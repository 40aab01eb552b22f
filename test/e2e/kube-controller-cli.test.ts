// `purser kube-controller` as a process (bin/purser.js → @purser/kube by name), over HTTPS with a
// kubeconfig file as kubectl writes it: it serves an opted-in ServiceAccount, logs JSON lines
// without the token, and on SIGTERM releases its Lease and exits 0.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { defaultMinter, KubeApi, type KubeObject } from '../helpers/kube-api/index.js';
import { purserBin } from '../helpers/paths.js';
import { type Proc, startProcess } from '../helpers/proc.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

let api: KubeApi;
let dir: string;
let proc: Proc | undefined;
const minted: string[] = [];

before(async () => {
  api = await KubeApi.start({
    tls: true,
    mint: async (i) => {
      const t = await defaultMinter(i);
      minted.push(t);
      return t;
    },
  });
  dir = makeTempDir('purser-kube-cli-');
});
after(async () => {
  await proc?.stop();
  await api.close();
  removeDir(dir);
});

test('purser kube-controller runs, writes the pull secret, and stops cleanly on SIGTERM', {
  timeout: 90_000,
}, async () => {
  api.create('serviceaccounts', 'apps', {
    metadata: { name: 'web', annotations: { 'purser.dev/pull-secret': 'true' } },
  });
  proc = startProcess(
    process.execPath,
    [
      purserBin,
      'kube-controller',
      '--kubeconfig',
      api.writeKubeconfig(dir),
      '--registry',
      'registry.example:5000',
      '--service',
      'registry.example',
      '--lease-namespace',
      'purser',
      '--metrics-port',
      '0',
      '--metrics-address',
      '127.0.0.1',
    ],
    { name: 'kube-controller' },
  );
  await proc.waitForLine(/"msg":"pull secret refreshed"/, 60_000);
  const secret = api.get<KubeObject & { data?: Record<string, string> }>(
    'secrets',
    'apps',
    'web-purser-pull',
  );
  assert.ok(secret?.data?.['.dockerconfigjson']);
  proc.child.kill('SIGTERM');
  const { code } = await proc.exited;
  assert.equal(code, 0, proc.logs());
  const lease = api.get<KubeObject & { spec: { holderIdentity?: string } }>(
    'leases.coordination.k8s.io',
    'purser',
    'purser-kube-controller',
  );
  assert.equal(lease?.spec.holderIdentity, '', 'released');
  for (const line of proc.stderr().split('\n').filter(Boolean)) {
    assert.doesNotThrow(() => JSON.parse(line), line);
    for (const t of minted) assert.ok(!line.includes(t), 'no token in the log');
  }
});
