// Graceful drain of `serve --workers 2` (shutdownTimeout 5 s): on SIGTERM, password logins in
// flight are answered, a proxied download shorter than the deadline streams to its end, new
// connections are refused once the listeners close, a download longer than the deadline is
// cut at the deadline, and the primary exits 0 right after.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { bcryptHash } from '../../src/authn/bcrypt.js';
import { generateKeys, type KeyPair, type Purser, startPurser } from '../helpers/purser.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const CHUNK = 16 * 1024;
const DEADLINE_S = 5;

/** An upstream whose /v2/team/NAME/tags/list streams a chunk every 100 ms for NAME's seconds. */
function slowUpstream(): Server {
  return createServer((req, res) => {
    const m = /^\/v2\/team\/s(\d+)\/tags\/list$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    const chunks = Number(m[1]) * 10;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': chunks * CHUNK });
    let sent = 0;
    const t = setInterval(() => {
      if (res.destroyed) return clearInterval(t);
      res.write(Buffer.alloc(CHUNK, 0x61));
      if (++sent === chunks) {
        clearInterval(t);
        res.end();
      }
    }, 100);
  });
}

interface Download {
  firstByte: Promise<void>;
  /** Bytes received, and whether the body ended whole (false: the connection was cut). */
  done: Promise<{ bytes: number; complete: boolean; at: number }>;
}

function download(url: string): Download {
  let first: () => void = () => {};
  const firstByte = new Promise<void>((r) => {
    first = r;
  });
  const done = new Promise<{ bytes: number; complete: boolean; at: number }>((resolve) => {
    let bytes = 0;
    const req = request(url, { agent: false, headers: { authorization: basic('alice', 'pw') } }, (res) => {
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        first();
      });
      res.on('end', () => resolve({ bytes, complete: res.complete, at: Date.now() }));
      res.on('error', () => resolve({ bytes, complete: false, at: Date.now() }));
      res.on('close', () => resolve({ bytes, complete: res.complete, at: Date.now() }));
    });
    req.on('error', () => resolve({ bytes, complete: false, at: Date.now() }));
    req.end();
  });
  return { firstByte, done };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('serve --workers 2: graceful drain on SIGTERM', () => {
  let dir: string;
  let keys: KeyPair;
  let upstream: Server;
  let purser: Purser;
  const users: Record<string, string> = {};

  before(async () => {
    dir = makeTempDir('purser-drain-');
    keys = await generateKeys(dir, 'ES256');
    upstream = slowUpstream();
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    // Real bcrypt cost: these logins are still running when SIGTERM arrives.
    for (let i = 0; i < 8; i++) users[`user${i}`] = await bcryptHash(`pw${i}`, 10, '2y');
    purser = await startPurser(
      {
        workers: 2,
        shutdownTimeout: DEADLINE_S,
        token: { issuer: 'purser', service: 'registry.test', key: keys.key, certificate: keys.crt },
        users: { alice: { password: 'pw' }, ...users },
        acl: [{ match: { name: 'team/*' }, actions: ['pull'] }],
        proxy: {
          upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
          upstreamAuth: 'none',
        },
      },
      { dir, startTimeoutMs: 40_000 },
    );
  });

  after(async () => {
    await purser?.stop();
    await new Promise((r) => upstream?.close(r));
    if (dir) removeDir(dir);
  });

  test('in-flight requests finish, new connections are refused, a long stream is cut at the deadline, exit 0', async () => {
    const short = download(`${purser.proxyUrl}/v2/team/s3/tags/list`);
    const long = download(`${purser.proxyUrl}/v2/team/s60/tags/list`);
    await Promise.all([short.firstByte, long.firstByte]);
    const logins = Object.keys(users).map(async (u, i) => {
      const res = await fetch(`${purser.url}/token?service=registry.test&scope=repository:team/x:pull`, {
        headers: { authorization: basic(u, `pw${i}`) },
      });
      await res.arrayBuffer();
      return { status: res.status, at: Date.now() };
    });
    await new Promise((r) => setTimeout(r, 20));
    const signalled = Date.now();
    purser.proc.child.kill('SIGTERM');

    const answered = await Promise.all(logins);
    assert.deepEqual(
      answered.map((a) => a.status),
      answered.map(() => 200),
      'every login in flight was answered',
    );
    assert.ok(
      answered.some((a) => a.at > signalled),
      'some logins were still running at SIGTERM (else this proves nothing)',
    );
    // Both listeners stop accepting while the short download still streams.
    const closedBy = Date.now() + 3_000;
    while (!((await refused(purser.port)) && (await refused(purser.proxyPort!)))) {
      assert.ok(Date.now() < closedBy, 'new connections still accepted 3 s after SIGTERM');
      await new Promise((r) => setTimeout(r, 50));
    }
    const s = await short.done;
    assert.deepEqual({ bytes: s.bytes, complete: s.complete }, { bytes: 30 * CHUNK, complete: true });
    const l = await long.done;
    assert.equal(l.complete, false, 'the 60 s download was cut');
    const cutAfter = (l.at - signalled) / 1000;
    assert.ok(
      cutAfter >= DEADLINE_S - 0.5 && cutAfter < DEADLINE_S + 3,
      `cut ${cutAfter.toFixed(1)} s after SIGTERM`,
    );
    const exit = await purser.proc.exited;
    const exitedAfter = (Date.now() - signalled) / 1000;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(exitedAfter < DEADLINE_S + 4, `exited ${exitedAfter.toFixed(1)} s after SIGTERM`);
    assert.match(purser.logs(), /shutdown deadline reached; connections still busy were closed/);
  });
});
