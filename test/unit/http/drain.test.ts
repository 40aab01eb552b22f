// drainServer (http/drain.ts): a response in flight finishes and its kept-alive connection
// closes after it, new connections are refused, an idle kept-alive connection closes at once,
// and past the deadline what is left is cut.
import assert from 'node:assert/strict';
import { Agent, createServer, type IncomingMessage, request, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { test } from 'node:test';
import { drainServer } from '../../../src/http/drain.js';

/** /slow/MS answers after MS, streaming a byte every 50 ms meanwhile. */
async function server(): Promise<{ s: Server; port: number }> {
  const s = createServer((req, res) => {
    const ms = Number(/^\/slow\/(\d+)$/.exec(req.url ?? '')?.[1] ?? 0);
    res.writeHead(200, { 'content-type': 'text/plain' });
    const t = setInterval(() => res.write('.'), 50);
    setTimeout(() => {
      clearInterval(t);
      res.end('done');
    }, ms);
    res.on('close', () => clearInterval(t));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { s, port: (s.address() as AddressInfo).port };
}

function get(port: number, path: string, agent: Agent) {
  return new Promise<{ body: string; complete: boolean; connection: string | undefined }>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('close', () => resolve({ body, complete: res.complete, connection: res.headers.connection }));
    });
    req.on('error', () => resolve({ body: '', complete: false, connection: undefined }));
    req.end();
  });
}

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(false);
    });
    c.once('error', () => resolve(true));
  });

test('requests in flight finish within the deadline; new connections are refused; keep-alive ends', async () => {
  const { s, port } = await server();
  const agent = new Agent({ keepAlive: true });
  // An idle kept-alive connection, and one busy with a 400 ms response.
  await get(port, '/slow/0', agent);
  const busy = get(port, '/slow/400', agent);
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  const drained = drainServer(s, 5_000);
  assert.equal(await refused(port), true, 'no new connection once draining');
  const r = await busy;
  assert.equal(r.complete, true);
  assert.ok(r.body.endsWith('done'));
  assert.equal(await drained, 0, 'nothing was cut');
  assert.ok(Date.now() - started < 2_000, 'the drain ended with the last response, not at its deadline');
  agent.destroy();
});

test('past the deadline the connections still busy are cut, and counted', async () => {
  const { s, port } = await server();
  const agent = new Agent({ keepAlive: false });
  const long = get(port, '/slow/10000', agent);
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  assert.equal(await drainServer(s, 300), 1);
  const r = await long;
  assert.equal(r.complete, false, 'the long response was cut');
  const took = Date.now() - started;
  assert.ok(took >= 250 && took < 2_000, `cut after ${took} ms`);
});
