// `purser kube-controller` loads @purser/kube on demand: --help comes from the package, a
// missing package is one clear line naming it, and bad flags are usage errors (exit 2).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kubeControllerCommand } from '../../../src/cli/kube-controller.js';
import { main } from '../../../src/cli/main.js';

function io() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: (s: string) => {
        out.stdout += s;
      },
      stderr: (s: string) => {
        out.stderr += s;
      },
      stdin: async () => '',
    },
  };
}

test('purser kube-controller --help prints the controller usage (exit 0)', async () => {
  const { out, io: i } = io();
  assert.equal(await main(['kube-controller', '--help'], i), 0);
  assert.match(out.stdout, /^Usage: purser kube-controller --registry HOST --service NAME/);
  for (const flag of [
    '--kubeconfig',
    '--registry',
    '--service',
    '--provider',
    '--annotation',
    '--namespace-label',
    '--lease-namespace',
    '--lease-name',
    '--metrics-port',
  ])
    assert.ok(out.stdout.includes(flag), flag);
});

test('purser --help lists kube-controller', async () => {
  const { out, io: i } = io();
  await main(['--help'], i);
  assert.match(out.stdout, /kube-controller/);
});

test('a missing flag is a usage error (exit 2), before anything connects', async () => {
  const { out, io: i } = io();
  assert.equal(await main(['kube-controller', '--service', 'registry'], i), 2);
  assert.equal(out.stderr, 'purser kube-controller: --registry HOST is required\n');
});

test('without the package: exit 1 and one line naming it', async () => {
  const { out, io: i } = io();
  assert.equal(await kubeControllerCommand(['--help'], i, '@purser/kube-not-installed'), 1);
  assert.match(
    out.stderr,
    /^purser kube-controller: .*the @purser\/kube-not-installed package, which is not installed: npm install @purser\/kube-not-installed/,
  );
  assert.equal(out.stderr.split('\n').length, 2);
});

test('a kubeconfig that cannot be loaded: exit 1, the file named', async () => {
  const { out, io: i } = io();
  const code = await main(
    ['kube-controller', '--registry', 'r.example', '--service', 's', '--kubeconfig', '/nonexistent/kc'],
    i,
  );
  assert.equal(code, 1);
  assert.match(out.stderr, /^purser kube-controller: cannot load kubeconfig \/nonexistent\/kc: /);
});
