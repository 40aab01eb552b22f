// A misbehaving upstream must never take Purser down: a blob answer whose headers Node would
// refuse to forward, and one cut short, against a raw TCP "registry" on loopback.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateKeys, type Purser, startPurser } from '../helpers/purser.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const DIGEST_BAD = `sha256:${'a'.repeat(64)}`;
const DIGEST_SHORT = `sha256:${'b'.repeat(64)}`;

/** Answers /v2/ with 200, the "bad" blob with an invalid header, the "short" one truncated. */
function startFaultyUpstream(): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      const path = buf.split(' ')[1] ?? '';
      buf = '';
      if (path.endsWith(DIGEST_BAD)) {
        sock.end('HTTP/1.1 200 OK\r\nBad Name: x\r\ncontent-length: 5\r\n\r\nhello');
      } else if (path.endsWith(DIGEST_SHORT)) {
        sock.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly-a-few-bytes');
        setTimeout(() => sock.destroy(), 50);
      } else {
        sock.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}');
      }
    });
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : 0 });
    });
  });
}

describe('proxy against a faulty upstream', { timeout: 60_000 }, () => {
  let dir = '';
  let upstream: { server: Server; port: number };
  let purser: Purser | undefined;
  const auth = `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`;

  before(async () => {
    dir = makeTempDir('purser-faulty-');
    upstream = await startFaultyUpstream();
    const keys = await generateKeys(dir, 'ES256');
    purser = await startPurser(
      {
        token: { issuer: 'purser', service: 'registry.test', key: keys.key, certificate: keys.crt },
        users: { alice: { password: 'alice-pw' } },
        acl: [{ match: { account: 'alice' }, actions: ['*'] }],
        proxy: { upstream: `http://127.0.0.1:${upstream.port}`, upstreamAuth: 'none' },
      },
      { dir: makeTempDir('purser-faulty-srv-') },
    );
  });

  after(async () => {
    await purser?.stop();
    await new Promise((r) => upstream?.server.close(r));
    if (dir) removeDir(dir);
  });

  test('an upstream header Node refuses to forward is a 502, and Purser keeps serving', async () => {
    const res = await fetch(`${purser!.proxyUrl}/v2/team/app/blobs/${DIGEST_BAD}`, {
      headers: { authorization: auth },
    });
    assert.equal(res.status, 502);
    await res.body?.cancel();
    assert.equal((await fetch(`${purser!.url}/healthz`)).status, 200, 'the token server still answers');
    const ok = await fetch(`${purser!.proxyUrl}/v2/`, { headers: { authorization: auth } });
    assert.equal(ok.status, 200, 'the proxy still answers');
  });

  test('a blob cut short by the upstream reaches the client as a broken body, never a complete one', async () => {
    const res = await fetch(`${purser!.proxyUrl}/v2/team/app/blobs/${DIGEST_SHORT}`, {
      headers: { authorization: auth },
    });
    assert.equal(res.status, 200);
    await assert.rejects(res.arrayBuffer(), 'reading the body fails instead of ending early');
    assert.equal((await fetch(`${purser!.url}/healthz`)).status, 200);
  });
});
