// distribution's own Go client (registry/client + its token handler, built from Debian's
// sources by helpers/go-build.ts): push, pull, tags, digest, a cross-repository mount that
// must be a mount (201), delete, and a pull-only user's push refused; against the registry
// with Purser as its token server, and through the proxy in every upstream mode.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { goBinary } from '../helpers/go-build.js';
import type { LogSource } from '../helpers/logs.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage } from '../helpers/oci.js';
import { describeRun, type RunResult, run } from '../helpers/proc.js';
import { ALICE, BOB, startProxyStack, waitForRegistryRequest } from '../helpers/proxy.js';
import type { Registry } from '../helpers/registry.js';
import { startStack } from '../helpers/stack.js';
import { removeDir } from '../helpers/tmp.js';

const TIMEOUT = 300_000;
const bin = await goBinary('distclient');
const skip = typeof bin === 'string' ? false : bin.skip;

interface Target {
  /** What the client uses as the registry. */
  url: string;
  registry: Registry;
  logSources(): LogSource[];
  stop(): Promise<void>;
}

type Who = { username: string; password: string };

async function dc(
  t: Target,
  who: Who,
  ...args: string[]
): Promise<{ r: RunResult; out: Record<string, unknown> }> {
  const r = await run(
    bin as string,
    ['-registry', t.url, '-user', who.username, '-pass', who.password, ...args],
    {
      timeout: 60_000,
    },
  );
  let out: Record<string, unknown> = {};
  try {
    out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  } catch {
    // not JSON: the assertion below prints the whole run
  }
  return { r, out };
}

function ok(res: { r: RunResult; out: Record<string, unknown> }, what: string): Record<string, unknown> {
  assert.equal(res.r.code, 0, `${what} failed\n${describeRun(res.r)}`);
  return res.out;
}

function distclientSuite(title: string, start: () => Promise<Target>): void {
  describe(title, { timeout: TIMEOUT, skip }, () => {
    let t: Target | undefined;
    let img: OciImage | undefined;
    const logs = () => t?.logSources() ?? [];
    before(async () => {
      [t, img] = await Promise.all([start(), buildOciImage({ tag: 'v1' })]);
    });
    after(async () => {
      await t?.stop();
      if (img) removeDir(img.dir);
    });

    test(
      'alice pushes, pulls (every blob verified), lists tags and resolves the tag to its digest',
      withLogs(logs, async () => {
        const tt = t!;
        const i = img!;
        assert.equal(
          ok(await dc(tt, ALICE, 'push', 'team/app', 'v1', i.dir), 'push').digest,
          i.manifestDigest,
        );
        const pulled = ok(await dc(tt, ALICE, 'pull', 'team/app', 'v1'), 'pull');
        assert.deepEqual(
          { digest: pulled.digest, blobs: pulled.blobs },
          { digest: i.manifestDigest, blobs: 2 },
        );
        assert.deepEqual(ok(await dc(tt, ALICE, 'tags', 'team/app'), 'tags').tags, ['v1']);
        assert.equal(ok(await dc(tt, ALICE, 'digest', 'team/app', 'v1'), 'digest').digest, i.manifestDigest);
      }),
    );

    test(
      'a cross-repository mount is a mount (201), not an upload',
      withLogs(logs, async () => {
        const tt = t!;
        const from = tt.registry.logs().length;
        const res = ok(await dc(tt, ALICE, 'mount', 'team/app', 'team/copy', img!.layerDigest), 'mount');
        assert.deepEqual(res, { mounted: true, digest: img!.layerDigest });
        const lines = await waitForRegistryRequest(tt.registry, from, (l) => l.includes('mount='));
        assert.ok(
          lines.some((l) => l.startsWith('POST /v2/team/copy/blobs/uploads/?') && l.endsWith(' 201')),
          `the registry did not mount:\n${lines.join('\n')}`,
        );
      }),
    );

    test(
      'bob (pull-only on team/*) pulls, but his push is refused and writes nothing',
      withLogs(logs, async () => {
        const tt = t!;
        ok(await dc(tt, BOB, 'pull', 'team/app', 'v1'), 'bob pulls');
        const push = await dc(tt, BOB, 'push', 'team/bob', 'v1', img!.dir);
        assert.notEqual(push.r.code, 0, `bob's push succeeded\n${describeRun(push.r)}`);
        assert.match(String(push.out.error), /denied|unauthorized|insufficient_scope/i);
        const after = await dc(tt, ALICE, 'pull', 'team/bob', 'v1');
        assert.notEqual(after.r.code, 0);
        assert.match(String(after.out.error), /manifest unknown|not found|name unknown/i);
      }),
    );

    test(
      'alice deletes the manifest; bob may not; a pull then finds nothing',
      withLogs(logs, async () => {
        const tt = t!;
        const i = img!;
        const bobDel = await dc(tt, BOB, 'delete', 'team/app', i.manifestDigest);
        assert.notEqual(bobDel.r.code, 0, `bob's delete succeeded\n${describeRun(bobDel.r)}`);
        ok(await dc(tt, ALICE, 'delete', 'team/app', i.manifestDigest), 'delete');
        const gone = await dc(tt, ALICE, 'pull', 'team/app', 'v1');
        assert.notEqual(gone.r.code, 0);
        assert.match(String(gone.out.error), /manifest unknown/i);
      }),
    );
  });
}

distclientSuite('distribution client against the registry, Purser as its token server', async () => {
  const st = await startStack();
  return {
    url: st.registry.url,
    registry: st.registry,
    logSources: () => st.logSources(),
    stop: () => st.stop(),
  };
});

for (const upstream of ['none', 'basic', 'token'] as const) {
  distclientSuite(`distribution client through the proxy, upstreamAuth ${upstream}`, async () => {
    const st = await startProxyStack({ upstream });
    return {
      url: st.proxyUrl,
      registry: st.registry,
      logSources: () => st.logSources(),
      stop: () => st.stop(),
    };
  });
}
