// guardConnections: close after an early answer, body-idle limit, connection cap (issue 8 hole 3),
// on an in-process listener and raw sockets.
import assert from 'node:assert/strict';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import type { GuardReason } from '../../../src/http/connection-guard.js';
import { closeServer, listenOn } from '../../../src/http/listen.js';
import { silentLogger } from '../../../src/util/log.js';
import { rawRequest as open, type RawRequest, within } from '../../helpers/raw-http.js';

// Every client socket a test opened, destroyed before its server closes (or the close waits).
const opened: RawRequest[] = [];
function rawRequest(...args: Parameters<typeof open>): RawRequest {
  const r = open(...args);
  opened.push(r);
  return r;
}
async function stop(server: Server): Promise<void> {
  for (const r of opened.splice(0)) r.destroy();
  await closeServer(server);
}

async function serve(
  handler: RequestListener,
  o: { maxConnections?: number; bodyIdleMs?: number } = {},
): Promise<{ server: Server; url: string; closed: GuardReason[] }> {
  const closed: GuardReason[] = [];
  const { server, url } = await listenOn('127.0.0.1:0', handler, {
    headersTimeout: 5_000,
    requestTimeout: 0,
    guard: {
      name: 'test',
      maxConnections: o.maxConnections ?? 0,
      bodyIdleMs: o.bodyIdleMs ?? 0,
      log: silentLogger,
      onClosed: (r) => closed.push(r),
    },
  });
  return { server, url: url.origin, closed };
}

const upload = ['PUT /x HTTP/1.1', 'Content-Length: 1000000'];

describe('guardConnections', () => {
  test('an answer before the body is read says Connection: close and closes; after the body it keeps alive', async () => {
    const { server, url } = await serve((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/read') {
        req.resume();
        req.on('end', () => res.writeHead(200).end('ok'));
      } else res.writeHead(401).end('no');
    });
    try {
      const early = rawRequest(url, upload, 'x');
      early.trickle(100);
      assert.ok(await within(early.closed, 2_000), 'a refused, unfinished body keeps its socket');
      assert.match(early.received(), /^HTTP\/1\.1 401[\s\S]*\r\nconnection: close\r\n/i);

      const whole = rawRequest(url, ['PUT /read HTTP/1.1', 'Content-Length: 3'], 'abc');
      assert.equal(await whole.status, 200);
      assert.doesNotMatch(whole.received(), /connection: close/i);
      assert.equal(await within(whole.closed, 300), false, 'a complete request lost its keep-alive');
    } finally {
      await stop(server);
    }
  });

  test('a small body answered early is read and dropped (no reset), within a deadline', async () => {
    const { server, url } = await serve((_req, res) => res.writeHead(400).end('no'));
    try {
      // Headers first, the few body bytes after the answer: they are read, the socket stays.
      const form = rawRequest(url, ['POST /f HTTP/1.1', 'Content-Length: 10']);
      assert.equal(await form.status, 400);
      form.socket.write('mount=abcd');
      assert.doesNotMatch(form.received(), /connection: close/i);
      assert.equal(await within(form.closed, 500), false, 'a small body answered early lost its socket');
      // A small body that never completes still loses its socket, after the drain deadline.
      const stalled = rawRequest(url, ['POST /f HTTP/1.1', 'Content-Length: 1000'], 'x');
      assert.equal(await stalled.status, 400);
      const ms = await stalled.closed;
      assert.ok(ms >= 4_000 && ms < 8_000, `a stalled small body closed after ${ms} ms`);
    } finally {
      await stop(server);
    }
  });

  test('a body that stops is closed after bodyIdleMs; one the handler has not started reading is not', async () => {
    const readLater: IncomingMessage[] = [];
    const { server, url, closed } = await serve(
      (req, res) => {
        if (req.url === '/later') {
          readLater.push(req);
          return;
        }
        req.on('data', () => {});
        req.on('end', () => res.end());
      },
      { bodyIdleMs: 200 },
    );
    try {
      const stalled = rawRequest(url, upload, 'x'.repeat(10));
      const waiting = rawRequest(url, ['PUT /later HTTP/1.1', 'Content-Length: 1000000'], 'x'.repeat(10));
      const live = rawRequest(url, upload, 'x');
      live.trickle(50);
      assert.ok(await within(stalled.closed, 1_500), 'a stalled body kept its socket');
      assert.equal(await within(live.closed, 500), false, 'a body that keeps arriving was cut');
      assert.equal(waiting.socket.destroyed, false, 'a body the server is not reading yet was cut');
      assert.deepEqual(closed, ['body_idle']);
    } finally {
      await stop(server);
    }
  });

  test('a handler of Expect: 100-continue added later is guarded too: its body stalling closes', async () => {
    const { server, url, closed } = await serve((_req, res) => res.end('ok'), { bodyIdleMs: 200 });
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      res.writeContinue();
      req.on('data', () => {});
      req.on('end', () => res.end('ok'));
    });
    try {
      const r = rawRequest(url, [...upload, 'Expect: 100-continue']);
      await new Promise((res) => setTimeout(res, 100));
      assert.match(r.received(), /^HTTP\/1\.1 100 Continue/);
      r.socket.write('x');
      assert.ok(await within(r.closed, 1_500), 'a stalled body after 100 Continue kept its socket');
      assert.deepEqual(closed, ['body_idle']);
      // Without a checkContinue handler of its own, Node still answers 100 Continue by itself.
      const plain = await serve((req, res) => {
        req.resume();
        req.on('end', () => res.end('ok'));
      });
      const c = rawRequest(plain.url, ['PUT /x HTTP/1.1', 'Content-Length: 2', 'Expect: 100-continue']);
      await new Promise((res) => setTimeout(res, 200));
      assert.match(c.received(), /^HTTP\/1\.1 100 Continue/);
      c.socket.write('ab');
      await new Promise((res) => setTimeout(res, 200));
      assert.match(c.received(), /HTTP\/1\.1 200 OK/);
      await stop(plain.server);
    } finally {
      await stop(server);
    }
  });

  test('beyond maxConnections a connection is closed at accept and counted', async () => {
    const { server, url, closed } = await serve((_req, res) => res.end('ok'), { maxConnections: 3 });
    const port = Number(new URL(url).port);
    const open = (): Promise<Socket> =>
      new Promise((resolve) => {
        const c = connect({ host: '127.0.0.1', port }, () => resolve(c));
        c.on('error', () => {});
      });
    const held = await Promise.all([open(), open(), open()]);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const extra = await open();
      assert.ok(
        await within(new Promise((r) => extra.once('close', r)), 1_000),
        'the fourth connection stayed',
      );
      assert.deepEqual(closed, ['max_connections']);
      for (const c of held) assert.equal(c.destroyed, false);
    } finally {
      for (const c of held) c.destroy();
      await stop(server);
    }
  });
});
