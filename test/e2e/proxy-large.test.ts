// A 200 MiB layer round-trips through Purser's proxy (upstreamAuth token) with its digest intact.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertOk } from '../helpers/assert.js';
import { withLogs } from '../helpers/logs.js';
import { buildOciImage, type OciImage, readLayoutBlob, readLayoutDigest } from '../helpers/oci.js';
import { ALICE, basic, type ProxyStack, settledLogRecords, startProxyStack } from '../helpers/proxy.js';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const TIMEOUT = 120_000;
const LAYER = 200 * 1024 * 1024;

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

const blobPath = (dir: string, digest: string): string => join(dir, 'blobs', 'sha256', digest.slice(7));

describe('proxy: a 200 MiB layer', { timeout: TIMEOUT }, () => {
  let st: ProxyStack | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage | undefined;
  const dirs: string[] = [];
  const logs = () => st?.logSources() ?? [];

  before(async () => {
    sk = createSkopeo();
    const t0 = Date.now();
    img = await buildOciImage({ tag: 'big', layerSize: LAYER, gzipLevel: 0 });
    dirs.push(img.dir);
    console.log(`# built a ${img.layerBlobSize} byte layer in ${Date.now() - t0} ms`);
    st = await startProxyStack({ upstream: 'token' });
  });
  after(async () => {
    await st?.stop();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  test(
    'skopeo pushes and pulls it back through the proxy; the layer digest is intact',
    withLogs(logs, async () => {
      const s = sk!;
      const im = img!;
      assert.ok(im.layerBlobSize > LAYER, `layer blob is ${im.layerBlobSize} bytes`);
      const ref = `docker://${st!.host}/team/big:v1`;

      let t0 = Date.now();
      assertOk(await s.copy(im.ref, ref, { dest: ALICE }, { timeout: 100_000 }), 'push');
      const pushMs = Date.now() - t0;

      const out = makeTempDir('purser-oci-out-');
      dirs.push(out);
      t0 = Date.now();
      assertOk(await s.copy(ref, `oci:${out}:v1`, { src: ALICE }, { timeout: 100_000 }), 'pull');
      const pullMs = Date.now() - t0;

      assert.equal(readLayoutDigest(out, 'v1'), im.manifestDigest, 'manifest digest');
      const manifest = JSON.parse(readLayoutBlob(out, im.manifestDigest).toString('utf8')) as {
        layers: { digest: string; size: number }[];
      };
      assert.equal(manifest.layers.length, 1);
      assert.equal(manifest.layers[0]!.digest, im.layerDigest, 'layer digest in the pulled manifest');
      const pulled = blobPath(out, im.layerDigest);
      assert.equal(statSync(pulled).size, im.layerBlobSize, 'pulled layer size');
      assert.equal(await sha256File(pulled), im.layerDigest, 'sha256 of the pulled layer file');

      const mib = im.layerBlobSize / 1024 / 1024;
      console.log(
        `# 200 MiB layer through the proxy: push ${pushMs} ms (${(mib / (pushMs / 1000)).toFixed(0)} MiB/s), ` +
          `pull ${pullMs} ms (${(mib / (pullMs / 1000)).toFixed(0)} MiB/s)`,
      );
      const proxied = await settledLogRecords(st!.purser, 'proxied');
      assert.ok(
        proxied.some(
          (r) => r.method === 'GET' && r.path === `/v2/team/big/blobs/${im.layerDigest}` && r.status === 200,
        ),
        'the layer GET went through the proxy',
      );
      assert.equal(
        (await settledLogRecords(st!.purser, 'proxy request failed')).length,
        0,
        'no failed proxy requests',
      );
    }),
  );

  test(
    'a direct GET of the blob streams it whole, and Range requests pass through',
    withLogs(logs, async () => {
      const im = img!;
      const url = `${st!.proxyUrl}/v2/team/big/blobs/${im.layerDigest}`;
      const headers = { authorization: basic(ALICE) };
      const t0 = Date.now();
      const res = await fetch(url, { headers });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-content-digest'), im.layerDigest);
      assert.equal(Number(res.headers.get('content-length')), im.layerBlobSize);
      const h = createHash('sha256');
      let n = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        h.update(chunk);
        n += chunk.length;
      }
      assert.equal(n, im.layerBlobSize);
      assert.equal(`sha256:${h.digest('hex')}`, im.layerDigest);
      console.log(`# direct GET of the layer through the proxy: ${Date.now() - t0} ms`);

      const start = 150 * 1024 * 1024 + 7;
      const end = start + 65_535;
      const r = await fetch(url, { headers: { ...headers, range: `bytes=${start}-${end}` } });
      const got = Buffer.from(await r.arrayBuffer());
      assert.equal(r.status, 206);
      assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${im.layerBlobSize}`);
      const fh = await open(blobPath(im.dir, im.layerDigest), 'r');
      try {
        const want = Buffer.alloc(end - start + 1);
        await fh.read(want, 0, want.length, start);
        assert.ok(got.equals(want), 'the range has the right bytes');
      } finally {
        await fh.close();
      }
    }),
  );

  test(
    'a client that goes away mid-download aborts the upstream request',
    withLogs(logs, async () => {
      const im = img!;
      const path = `/v2/team/big/blobs/${im.layerDigest}`;
      const before = (await settledLogRecords(st!.purser, 'proxy request failed')).length;
      const regFrom = st!.registry.logs().length;
      const ac = new AbortController();
      const res = await fetch(`${st!.proxyUrl}${path}`, {
        headers: { authorization: basic(ALICE) },
        signal: ac.signal,
      });
      assert.equal(res.status, 200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let got = 0;
      while (got < 1024 * 1024) {
        const { value, done } = await reader.read();
        if (done) break;
        got += value.length;
      }
      ac.abort();
      await reader.cancel().catch(() => undefined);
      // Purser notices and logs the failed (aborted) request; the registry stops writing early.
      const deadline = Date.now() + 10_000;
      let failed = (await settledLogRecords(st!.purser, 'proxy request failed')).slice(before);
      while (!failed.some((r) => r.path === path) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        failed = (await settledLogRecords(st!.purser, 'proxy request failed')).slice(before);
      }
      assert.ok(
        failed.some((r) => r.path === path),
        'Purser logged the aborted download as failed',
      );
      let written: number | undefined;
      while (written === undefined && Date.now() < deadline) {
        const m = /"GET \/v2\/team\/big\/blobs\/sha256:[0-9a-f]+ HTTP\/1\.1" 200 (\d+)/.exec(
          st!.registry.logs().slice(regFrom),
        );
        if (m) written = Number(m[1]);
        else await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(written !== undefined, 'the registry logged the GET');
      assert.ok(written! < im.layerBlobSize, `the registry wrote ${written} of ${im.layerBlobSize} bytes`);
    }),
  );

  test(
    'an upstream that dies mid-download gives the client a broken stream, then 502/503 in the registry format',
    withLogs(logs, async () => {
      const im = img!;
      const res = await fetch(`${st!.proxyUrl}/v2/team/big/blobs/${im.layerDigest}`, {
        headers: { authorization: basic(ALICE) },
      });
      assert.equal(res.status, 200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let got = 0;
      let killed = false;
      let error: unknown;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          got += value.length;
          if (!killed && got > 4 * 1024 * 1024) {
            killed = true;
            st!.registry.proc.child.kill('SIGKILL');
          }
        }
      } catch (e) {
        error = e;
      }
      assert.ok(killed, 'the registry was killed mid-stream');
      assert.ok(error !== undefined, `the body ended cleanly after ${got} of ${im.layerBlobSize} bytes`);
      assert.ok(got < im.layerBlobSize, `got ${got} bytes`);
      await st!.registry.proc.exited;

      const after = await fetch(`${st!.proxyUrl}/v2/team/big/manifests/v1`, {
        headers: { authorization: basic(ALICE) },
      });
      const text = await after.text();
      assert.ok(after.status === 502 || after.status === 503, `status ${after.status}: ${text}`);
      const body = JSON.parse(text) as { errors?: { code?: string }[] };
      assert.equal(body.errors?.[0]?.code, 'UNAVAILABLE');
    }),
  );
});
