// Resource exhaustion through the proxy and the token server (issue 8, holes 3 and 4), on the
// wire: bodies that trickle or stop, connections beyond the cap, uploads that would hold every
// upstream connection.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { withLogs } from '../helpers/logs.js';
import { ALICE, basic, CAROL, type ProxyStack, SERVICE, startProxyStack } from '../helpers/proxy.js';
import { type RawRequest, rawRequest, within } from '../helpers/raw-http.js';

const TIMEOUT = 90_000;

type Creds = { username: string; password: string };

/** Starts a blob upload; the Location's path and query, as the proxy rewrote it. */
async function startUpload(st: ProxyStack, who: Creds, repo: string): Promise<string> {
  const res = await fetch(`${st.proxyUrl}/v2/${repo}/blobs/uploads/`, {
    method: 'POST',
    headers: { authorization: basic(who) },
  });
  assert.equal(res.status, 202, `upload start for ${who.username}: ${await res.text()}`);
  const loc = new URL(res.headers.get('location')!, st.proxyUrl);
  return loc.pathname + loc.search;
}

/** A PATCH of a large body that has only begun: the proxy forwards it while it arrives. */
function openUpload(st: ProxyStack, who: Creds, path: string, first = 'x'): RawRequest {
  return rawRequest(
    st.proxyUrl,
    [
      `PATCH ${path} HTTP/1.1`,
      `Authorization: ${basic(who)}`,
      'Content-Type: application/octet-stream',
      'Content-Length: 100000000',
    ],
    first,
  );
}

/** A metric's value from the token server's /metrics (0 when absent). */
async function metric(st: ProxyStack, series: string): Promise<number> {
  const text = await (await fetch(`${st.purser.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function waitFor(pred: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
}

/** ms to answer, asserting the status; a 5 s abort turns a hang into a failure. */
async function timed(url: string, init: RequestInit, status: number, what: string): Promise<number> {
  const t0 = performance.now();
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  } catch (e) {
    assert.fail(`${what}: no answer within 5 s (${(e as Error).message})`);
  }
  await res.arrayBuffer();
  assert.equal(res.status, status, what);
  return performance.now() - t0;
}

const tokenPath = `/token?service=${SERVICE}&scope=repository:public/x:pull`;

describe('proxy and token server: sockets that never close (issue 8 hole 3)', { timeout: TIMEOUT }, () => {
  let st: ProxyStack | undefined;
  const logs = () => st?.logSources() ?? [];
  before(async () => {
    st = await startProxyStack({
      upstream: 'none',
      proxy: { bodyIdleTimeout: 2 },
      extra: { limits: { bodyIdleTimeout: 2 } },
    });
  });
  after(async () => {
    await st?.stop();
  });

  test(
    '300 refused uploads trickling their bodies are answered 401 with Connection: close and closed; /token stays fast',
    withLogs(logs, async () => {
      const N = 300;
      const reqs = Array.from({ length: N }, () => {
        const r = rawRequest(
          st!.proxyUrl,
          [
            `PUT /v2/team/app/blobs/uploads/x?digest=sha256:${'a'.repeat(64)} HTTP/1.1`,
            'Content-Type: application/octet-stream',
            'Content-Length: 100000000',
          ],
          'x'.repeat(100),
        );
        r.trickle(500);
        return r;
      });
      try {
        const ms: number[] = [];
        for (let i = 0; i < 10; i++) ms.push(await timed(`${st!.purser.url}${tokenPath}`, {}, 200, '/token'));
        const closed = await Promise.all(reqs.map((r) => within(r.closed, 10_000)));
        const open = closed.filter((c) => !c).length;
        assert.equal(open, 0, `${open} of ${N} sockets trickling a refused body are still open after 10 s`);
        for (const r of reqs) {
          assert.match(r.received(), /^HTTP\/1\.1 401 /, 'each got its 401');
          assert.match(r.received(), /\r\nconnection: close\r\n/i, 'and was told the connection closes');
        }
        const closeMs = await Promise.all(reqs.map((r) => r.closed));
        console.log(
          `# ${N} trickled refused bodies: all closed, slowest after ${Math.max(...closeMs)} ms; ` +
            `/token meanwhile: max ${Math.max(...ms).toFixed(1)} ms over ${ms.length}`,
        );
        assert.ok(Math.max(...ms) < 1_000, `/token took ${Math.max(...ms)} ms under the trickle`);
      } finally {
        for (const r of reqs) r.destroy();
      }
    }),
  );

  test(
    'a refusal without a request body keeps the connection alive',
    withLogs(logs, async () => {
      const r = rawRequest(st!.proxyUrl, ['GET /v2/ HTTP/1.1']);
      try {
        assert.equal(await r.status, 401);
        assert.equal(await within(r.closed, 500), false, 'keep-alive connection closed');
      } finally {
        r.destroy();
      }
    }),
  );

  test(
    'a body that stops arriving loses its connection after bodyIdleTimeout; one that keeps arriving does not',
    withLogs(logs, async () => {
      const s = st!;
      const stalled = openUpload(s, ALICE, await startUpload(s, ALICE, 'team/app'), 'x'.repeat(1000));
      const live = openUpload(s, ALICE, await startUpload(s, ALICE, 'team/app'));
      live.trickle(200);
      const token = rawRequest(
        s.purser.url,
        ['POST /token HTTP/1.1', 'Content-Type: application/x-www-form-urlencoded', 'Content-Length: 200'],
        'grant_type=pass',
      );
      try {
        assert.ok(
          await within(stalled.closed, 6_000),
          'a stalled upload body still holds its socket after 6 s',
        );
        assert.ok(
          await within(token.closed, 6_000),
          'a stalled /token body still holds its socket after 6 s',
        );
        console.log(
          `# stalled bodies closed after ${await stalled.closed} ms (proxy), ${await token.closed} ms (token)`,
        );
        // By now `live` has been open for well over the 2 s idle limit.
        assert.equal(await within(live.closed, 1_000), false, 'a body that keeps arriving was cut');
        assert.ok(
          (await metric(s, 'purser_connections_closed_total{listener="proxy",reason="body_idle"}')) >= 1,
          'counted in purser_connections_closed_total',
        );
      } finally {
        for (const r of [stalled, live, token]) r.destroy();
      }
    }),
  );
});

describe('proxy: connection cap and upload capacity (issue 8 holes 3 and 4)', { timeout: TIMEOUT }, () => {
  let st: ProxyStack | undefined;
  const logs = () => st?.logSources() ?? [];
  const uploads = () => metric(st!, 'purser_proxy_uploads_in_flight');
  before(async () => {
    st = await startProxyStack({
      upstream: 'none',
      proxy: { connections: 4, uploadConnections: 4, uploadsPerAccount: 3, maxConnections: 40 },
    });
  });
  after(async () => {
    await st?.stop();
  });

  // First in this suite: no other client connection to the proxy is open yet.
  test(
    'beyond maxConnections a new connection is closed at once; the token server still answers',
    withLogs(logs, async () => {
      const s = st!;
      const { port } = new URL(s.proxyUrl);
      const open = (): Promise<Socket> =>
        new Promise((resolve, reject) => {
          const c = connect({ host: '127.0.0.1', port: Number(port) }, () => resolve(c));
          c.on('error', reject);
        });
      // Earlier tests' fetch() keep-alive sockets count against the cap and close on their own
      // after undici's idle timeout, which would make room mid-test: close them first.
      const previous = getGlobalDispatcher();
      setGlobalDispatcher(new Agent());
      await previous.close();
      await new Promise((r) => setTimeout(r, 300));
      const held = await Promise.all(Array.from({ length: 40 }, open));
      // A socket of an earlier test may still be counted and close later, making room: so
      // each new connection is watched on its own, and one that is let in fills that room.
      const heldClosed = held.map((c) => {
        c.on('error', () => {});
        return within(new Promise((r) => c.once('close', r)), 1_000);
      });
      const droppedHeld = (await Promise.all(heldClosed)).filter(Boolean).length;
      const extra: Socket[] = [];
      try {
        const closedAtOnce: boolean[] = [];
        for (let i = 0; i < 12 && closedAtOnce.filter(Boolean).length < 5; i++) {
          const c = await open();
          c.on('error', () => {});
          extra.push(c);
          closedAtOnce.push(await within(new Promise((r) => c.once('close', r)), 1_000));
        }
        const letIn = closedAtOnce.filter((x) => !x).length;
        assert.equal(closedAtOnce.length - letIn, 5, `connections beyond the cap stay open: ${closedAtOnce}`);
        assert.ok(letIn <= 4, `${letIn} connections let in beyond the cap`);
        await timed(`${s.purser.url}${tokenPath}`, {}, 200, '/token at the proxy cap');
        assert.equal(
          await metric(s, 'purser_connections_closed_total{listener="proxy",reason="max_connections"}'),
          5 + droppedHeld,
        );
      } finally {
        for (const c of [...held, ...extra]) c.destroy();
      }
      // Below the cap again, the proxy serves.
      assert.ok(
        await waitFor(
          async () => (await fetch(`${s.proxyUrl}/v2/`).catch(() => undefined))?.status === 401,
          3_000,
        ),
        'the proxy answers again once connections are released',
      );
    }),
  );

  test(
    'trickled uploads filling the upload connections do not delay a pull or /token',
    withLogs(logs, async () => {
      const s = st!;
      // A blob to pull, pushed before the upload side is full.
      const blob = Buffer.from('capacity test blob');
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const put = await startUpload(s, ALICE, 'team/app');
      const pushed = await fetch(`${s.proxyUrl}${put}&digest=${digest}`, {
        method: 'PUT',
        headers: { authorization: basic(ALICE), 'content-type': 'application/octet-stream' },
        body: blob,
      });
      assert.equal(pushed.status, 201, await pushed.text());

      // 6 uploads for 4 upload connections: all held, 2 more waiting.
      const who: [Creds, string][] = [
        [ALICE, 'team/app'],
        [ALICE, 'team/app'],
        [ALICE, 'team/app'],
        [CAROL, 'carol/x'],
        [CAROL, 'carol/x'],
        [CAROL, 'carol/x'],
      ];
      const paths: string[] = [];
      for (const [u, repo] of who) paths.push(await startUpload(s, u, repo));
      const held = who.map(([u], i) => openUpload(s, u, paths[i]!));
      for (const r of held) r.trickle(300);
      try {
        await waitFor(async () => (await uploads()) >= 6, 3_000);
        const auth = { headers: { authorization: basic(ALICE) } };
        const ms = [
          await timed(`${s.proxyUrl}/v2/`, auth, 200, 'GET /v2/'),
          await timed(
            `${s.proxyUrl}/v2/team/app/blobs/${digest}`,
            { ...auth, method: 'HEAD' },
            200,
            'HEAD blob',
          ),
          await timed(`${s.proxyUrl}/v2/team/app/blobs/${digest}`, auth, 200, 'GET blob'),
          await timed(`${s.proxyUrl}/v2/team/app/tags/list`, auth, 404, 'GET tags/list'),
          await timed(`${s.proxyUrl}${tokenPath}`, {}, 200, '/token on the proxy'),
        ];
        console.log(`# pulls with the upload side full: ${ms.map((m) => m.toFixed(1)).join(', ')} ms`);
        assert.ok(Math.max(...ms) < 2_000, `a pull took ${Math.max(...ms)} ms`);
        for (const r of held) assert.equal(r.socket.destroyed, false, 'a trickled upload was cut');
      } finally {
        for (const r of held) r.destroy();
      }
      assert.ok(await waitFor(async () => (await uploads()) === 0, 3_000), 'upload slots released');
    }),
  );

  test(
    "at uploadsPerAccount the account's next upload gets 429 TOOMANYREQUESTS; another account's does not",
    withLogs(logs, async () => {
      const s = st!;
      const paths: string[] = [];
      for (let i = 0; i < 3; i++) paths.push(await startUpload(s, ALICE, 'team/app'));
      const held = paths.map((p) => openUpload(s, ALICE, p));
      for (const r of held) r.trickle(300);
      try {
        assert.ok(await waitFor(async () => (await uploads()) === 3, 3_000), 'three uploads in flight');
        const refused = await fetch(`${s.proxyUrl}/v2/team/app/blobs/uploads/`, {
          method: 'POST',
          headers: { authorization: basic(ALICE) },
        });
        assert.equal(refused.status, 429);
        assert.equal(refused.headers.get('retry-after'), '2');
        const body = (await refused.json()) as { errors: { code: string }[] };
        assert.equal(body.errors[0]?.code, 'TOOMANYREQUESTS');
        // alice still pulls, and carol still uploads.
        await timed(`${s.proxyUrl}/v2/`, { headers: { authorization: basic(ALICE) } }, 200, 'alice pulls');
        const other = await fetch(`${s.proxyUrl}/v2/carol/x/blobs/uploads/`, {
          method: 'POST',
          headers: { authorization: basic(CAROL) },
          signal: AbortSignal.timeout(5_000),
        });
        assert.equal(other.status, 202, "another account's upload");
        await other.arrayBuffer();
      } finally {
        for (const r of held) r.destroy();
      }
      assert.ok(await waitFor(async () => (await uploads()) === 0, 3_000), 'upload slots released');
    }),
  );
});
